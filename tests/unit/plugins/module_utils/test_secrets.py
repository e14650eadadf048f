"""_secrets: URL user-info, DSN passwords and given secrets never survive redact / scrub."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote, quote_plus

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._db import DatabaseError, build_spec, parse_dsn
from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import (
    MASK,
    dsn_secrets,
    redact,
    scrub,
    url_secrets,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.checks import HttpChecker
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.options import (
    CheckSpec,
    Expectations,
    HttpOptionError,
    parse_header_expectations,
    validate_url,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.readiness import build_readiness_specs
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.transport import (
    SNIPPET_CHARS,
    RawResponse,
    describe_exception,
)

PASSWORD = "Pw@zd:s3cr3t-7Q"
PIECES = (PASSWORD, quote(PASSWORD, safe=""), "s3cr3t", "zd:s3", "Pw@zd")


def _clean(text):
    leaked = [p for p in PIECES if p in text]
    assert not leaked, "%r leaks %r" % (text, leaked)
    return text


@pytest.mark.parametrize(
    "text, shown",
    [
        ("http://zduser:%s@127.0.0.1:8080/health" % PASSWORD, "http://%s@127.0.0.1:8080/health" % MASK),
        ("https://zduser:%s@h/x?next=a@b" % quote(PASSWORD, safe=""), "https://%s@h/x?next=a@b" % MASK),
        ("https://ghp_tokentokentoken@github.com/org/repo", "https://%s@github.com/org/repo" % MASK),
        ("postgresql://app:%s@db:5432/shop" % PASSWORD, "postgresql://app:%s@db:5432/shop" % MASK),
        ("mysql+pymysql://root:%s@127.0.0.1/x" % PASSWORD, "mysql+pymysql://root:%s@127.0.0.1/x" % MASK),
        ("postgresql://app@db1:5432/shop", "postgresql://app@db1:5432/shop"),  # a role name is no secret
        ("host=db password='%s' user=app" % PASSWORD, "host=db password=%s user=app" % MASK),
        ("failed: password=%s;x" % PASSWORD, "failed: password=%s" % MASK),
        ("password='%s and more" % PASSWORD, "password=%s" % MASK),  # unterminated quote: to the end
        ("http://host/users/bob@example.com", "http://host/users/bob@example.com"),  # @ in a path: no user-info
    ],
)
def test_redact_masks_user_info_and_password_fields(text, shown):
    assert _clean(redact(text)) == shown


def test_given_secrets_are_masked_as_written_and_percent_encoded():
    text = "echo: %s and %s" % (PASSWORD, quote(PASSWORD, safe=""))
    assert _clean(redact(text, [PASSWORD])) == "echo: %s and %s" % (MASK, MASK)
    assert redact("nothing here", [None, ""]) == "nothing here"


def test_url_secrets_are_the_password_its_decoded_form_and_the_basic_credential():
    url = "http://zduser:%s@127.0.0.1/x" % quote(PASSWORD, safe="")
    basic = base64.b64encode(("zduser:" + PASSWORD).encode()).decode()
    assert set(url_secrets(url)) == {quote(PASSWORD, safe=""), PASSWORD, basic}
    assert url_secrets("http://zduser:%s@127.0.0.1/x" % PASSWORD)[0] == PASSWORD
    assert url_secrets("https://ghp_tokentokentoken@github.com/") == ["ghp_tokentokentoken"]
    assert url_secrets("https://bob@example.com/") == []  # a short user name is not taken for a token
    assert url_secrets("postgresql://app@db/x") == [] and url_secrets(None) == [] and url_secrets("h:1") == []


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://app:%s@db:99999/shop" % PASSWORD,  # invalid port
        "postgresql://app:%s@[::1/shop" % PASSWORD,  # unclosed [
        "postgresql://app:Pw@zd/s3cr3t-7Q@db/shop",  # a raw '/' in the password: unparseable, still hidden
        "oracle://app:%s@db/shop" % PASSWORD,  # unknown scheme
        "host=db password='%s" % PASSWORD,  # unterminated quote
        "host=db password=%s junk" % PASSWORD,  # a word without '='
        "host=db password=Pw@zd s3cr3t-7Q user=app",  # an unquoted password with a space
        "host=db port=99999 password='%s'" % PASSWORD,
    ],
)
def test_no_piece_of_a_dsn_password_reaches_a_parse_error(dsn):
    with pytest.raises(DatabaseError) as err:
        build_spec("postgresql", dsn=dsn) if "oracle" not in dsn else parse_dsn(dsn)
    message = _clean(str(err.value))
    assert "DSN" in message or "scheme" in message, message


def test_dsn_secrets_find_the_password_of_a_broken_dsn():
    assert PASSWORD in dsn_secrets("postgresql://app:%s@db:99999/shop" % PASSWORD)
    assert PASSWORD in dsn_secrets("host=db password='%s" % PASSWORD)
    assert dsn_secrets("postgresql://app@db/shop") == [] and dsn_secrets(None) == []


def test_scrub_keeps_types_and_masks_every_string():
    value = {"url": "http://u:%s@h/" % PASSWORD, "n": 3, "ok": True, "list": ["x %s" % PASSWORD, None]}
    out = scrub(value, [PASSWORD])
    assert out == {"url": "http://%s@h/" % MASK, "n": 3, "ok": True, "list": ["x %s" % MASK, None]}


def test_http_results_and_messages_show_no_user_info():
    url = "http://zduser:%s@127.0.0.1:8080/health" % PASSWORD
    assert CheckSpec(url).shown_url == "http://%s@127.0.0.1:8080/health" % MASK
    for bad in (
        "http://zduser:%s@127.0.0.1:99999/x" % PASSWORD,  # invalid port
        "ftp://zduser:%s@127.0.0.1/x" % PASSWORD,  # scheme
        "http://zduser:%s@/x" % PASSWORD,  # no host
    ):
        with pytest.raises(HttpOptionError) as err:
            validate_url(bad, "url")
        _clean(str(err.value))
    with pytest.raises(HttpOptionError) as err:
        build_readiness_specs({"urls": [url, url]})
    assert "listed twice" in _clean(str(err.value))
    assert _clean(describe_exception(ValueError("Invalid URL %r" % url), 1.0)).endswith(
        MASK + "@127.0.0.1:8080/health'"
    )


class _Echo:
    """A transport whose server sends back, long after some padding, everything the request carried."""

    def __init__(self, pad: int) -> None:
        self.pad = pad

    def http(self, spec, timeout):
        echoed = "x" * self.pad + " ".join([spec.url] + list(spec.headers.values()) + [(spec.body or b"").decode()])
        return RawResponse(500, {"X-Echo": spec.headers.get("Authorization", "")}, echoed.encode())


@pytest.mark.parametrize("pad", range(SNIPPET_CHARS - 60, SNIPPET_CHARS + 1, 7))
def test_an_echoed_secret_cut_by_the_snippet_leaves_no_prefix_behind(pad):
    basic = base64.b64encode(("zduser:" + PASSWORD).encode()).decode()
    spec = CheckSpec(
        "http://zduser:%s@127.0.0.1/x" % PASSWORD,
        method="POST",
        headers={"Authorization": "Basic " + basic},
        body={"password": PASSWORD},
        expect=Expectations(headers=parse_header_expectations({"X-Echo": "none"}, "expect_header")),
    )
    result = HttpChecker(transport=_Echo(pad)).check(spec)
    for text in (result.reason, result.snippet):
        _clean(text)
        assert basic[:12] not in text, text  # not even the start of the Basic credential


@pytest.mark.parametrize(
    "text, shown",
    [
        ("GET https://api/x?token=tok-123456&a=1", "GET https://api/x?token=%s&a=1" % MASK),
        ("https://h/cb?a=1&access_token=ya29.abc#frag", "https://h/cb?a=1&access_token=%s#frag" % MASK),
        (
            "http://h/?api_key=k%2Fz9&apikey=zz99&client_secret=cs",
            "http://h/?api_key=%s&apikey=%s&client_secret=%s" % (MASK, MASK, MASK),
        ),
        (
            "s3 https://b/o?X-Amz-Signature=abcdef&X-Amz-Credential=AKIA",
            "s3 https://b/o?X-Amz-Signature=%s&X-Amz-Credential=%s" % (MASK, MASK),
        ),
        ("'http://h/?secret=s3cr3t' failed", "'http://h/?secret=%s' failed" % MASK),
        ("<a href='/x?a=1&amp;key=k3y'>", "<a href='/x?a=1&amp;key=%s'>" % MASK),
        ("http://h/?page=2&sort=name", "http://h/?page=2&sort=name"),  # no credential, nothing masked
    ],
)
def test_credentials_in_query_strings_are_masked(text, shown):
    assert redact(text) == shown


def test_url_secrets_include_query_credentials_as_written_and_decoded():
    found = url_secrets("https://api/x?token=t%2Bk-1234&page=2&sig=1")
    assert "t%2Bk-1234" in found and "t+k-1234" in found
    assert "2" not in found and "1" not in found  # not a credential / too short to mask everywhere


SECRET = 'p/w\u00f6rd"&<x> +y'


@pytest.mark.parametrize(
    "echo",
    [
        json.dumps(SECRET),  # JSON, ASCII-escaped
        json.dumps(SECRET, ensure_ascii=False),
        json.dumps(SECRET).replace("/", "\\/"),  # PHP's JSON escapes / too
        quote(SECRET, safe=""),
        quote(SECRET, safe="").lower(),  # %2f as some servers write it
        quote_plus(SECRET, safe=""),  # a form-encoded echo
        html.escape(SECRET),
    ],
)
def test_a_secret_echoed_back_escaped_is_masked(echo):
    shown = redact("server said: %s." % echo, [SECRET])
    assert shown.count(MASK) == 1 and "rd" not in shown and "w\\u00f6" not in shown, shown
