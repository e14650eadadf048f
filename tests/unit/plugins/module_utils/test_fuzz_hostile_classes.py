"""Property-based fuzzing of the hostile-input classes, at the shared helper that owns each class.

* URLs: any text as a URL is accepted or an HttpOptionError (never a ValueError from urllib, "http://[::1/"); the
  origin check of a redirect never raises; a credential in a query string never survives ``redact``.
* JSON depth: an answer or a state file nested to any depth is judged or refused, never a RecursionError; a JSON
  path index of any length is found or not found.
* Encodings: any bytes as the nginx servers file, a state file or the tail of the audit log are read or named,
  never a UnicodeDecodeError; a secret echoed back in any escaped form is masked.
* Numeric strings: a number option given as text is accepted only when written with the digits 0-9, whatever
  int() and float() would make of it ('٥', '1_0', '１２').

Deterministic (derandomize, no example database) so that CI sees the same examples every run.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zerodown_testkit.support.fake_clock import FakeClock

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._lock import (
    LOCK_SHAPE,
    StateDir,
    StateError,
    load_state_file,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import MASK, escaped_forms, redact
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.nginx import Nginx, NginxFileError
from ansible_collections.zerodown.deploy.plugins.module_utils.probe import checks
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.checks import HttpChecker, lookup_json_path
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.options import (
    CheckSpec,
    Expectations,
    HttpOptionError,
    parse_json_expectations,
    validate_url,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.transport import (
    RawResponse,
    headers_after_redirect,
    keeps_credentials,
)

FUZZ = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- URLs --------------------------------------------------------------------------------------------------

URL_PIECES = st.sampled_from(
    [
        "http://",
        "https://",
        "tcp://",
        "ftp://",
        "[",
        "]",
        "::1",
        "[::1]",
        "%",
        "%25",
        "@",
        ":",
        "/",
        "?",
        "#",
        "&",
        "app",
        "10.0.0.1",
        ":8080",
        ":99999",
        ":0",
        "user:pw@",
        "token=",
        "\u0665",
        " ",
        "\n",
        "\x00",
        "..",
        "x",
    ]
)
URLS = st.one_of(st.text(max_size=60), st.lists(URL_PIECES, max_size=12).map("".join))


@FUZZ
@given(URLS, st.booleans())
def test_any_text_as_a_url_is_accepted_or_named(url, allow_tcp):
    try:
        assert validate_url(url, "url", allow_tcp=allow_tcp) == url
    except HttpOptionError as exc:
        assert str(exc).startswith("url: ")


@FUZZ
@given(URLS, URLS)
def test_the_redirect_origin_check_never_raises_and_only_keeps_headers_on_one_origin(first, then):
    headers = {"X-Api-Key": "k"}
    kept = headers_after_redirect(headers, first, then)
    assert kept in ({}, headers)
    if kept:
        assert keeps_credentials(first, then)


SECRET_PARAMS = st.sampled_from(["token", "api_key", "access_token", "secret", "X-Amz-Signature", "apikey", "pwd"])
VALUES = st.text(
    alphabet=st.characters(
        blacklist_characters="&#;'\"<> \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0"
        "\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
        "\u2028\u2029\u202f\u205f\u3000*",
        blacklist_categories=("Cs",),
    ),
    min_size=6,
    max_size=30,
)


@FUZZ
@given(SECRET_PARAMS, VALUES, st.sampled_from(["https://api.example/x?", "http://h/?a=1&", "/path?page=2&"]))
def test_a_credential_in_a_query_string_is_never_printed(name, value, base):
    shown = redact("request to %s%s=%s&page=3 failed" % (base, name, value))
    assert value not in shown and "%s=%s" % (name, MASK) in shown


# -- JSON depth --------------------------------------------------------------------------------------------


def _nested(depth: int, kind: str) -> bytes:
    opener, closer = {"list": (b"[", b"]"), "dict": (b'{"a":', b"}")}[kind]
    return opener * depth + b"1" + closer * depth


@FUZZ
@given(st.integers(min_value=0, max_value=30000), st.sampled_from(["list", "dict"]))
def test_a_json_answer_of_any_depth_is_judged_never_a_recursion_error(depth, kind):
    expect = Expectations(json_fields=parse_json_expectations({"a": 1}, "json"))
    clock = FakeClock()
    transport = type("T", (), {"http": lambda self, spec, timeout: RawResponse(200, {}, _nested(depth, kind))})()
    result = HttpChecker(transport, clock).check(CheckSpec("http://app/", expect=expect))
    if depth > validate.MAX_JSON_DEPTH:
        assert result.reasons == ["response body is JSON nested deeper than 100 levels"]
    else:
        assert result.reasons is not None  # judged: found, not found or different, never an exception


@FUZZ
@given(st.integers(min_value=0, max_value=30000), st.binary(max_size=40))
def test_a_state_file_of_any_depth_or_bytes_is_read_or_named(depth, tail):
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "deploy.lock")
        with open(path, "wb") as handle:
            handle.write(b'{"run_id": ' + _nested(depth, "list") + b"}" + tail)
        try:
            load_state_file(path, LOCK_SHAPE, "remedy")
        except StateError as exc:
            assert path in str(exc)


@FUZZ
@given(st.text(alphabet="0123456789-", min_size=1, max_size=6000), st.lists(st.integers(), max_size=5))
def test_a_json_path_index_of_any_length_is_found_or_not_found(segment, items):
    found = lookup_json_path({"items": items}, ("items", segment))
    assert found is checks._MISSING or found in items


# -- encodings ---------------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=200))
def test_any_bytes_as_the_nginx_servers_file_are_read_or_named(tmp_path_factory, raw):
    directory = tmp_path_factory.mktemp("nginx")
    servers = directory / "app.servers"
    servers.write_bytes(raw)
    control = Nginx(
        str(directory / "nginx.conf"), str(servers), runner=lambda *a, **k: subprocess.CompletedProcess(a, 1)
    )
    try:
        control.read("app")
    except NginxFileError as exc:
        assert str(servers) in str(exc)
    assert servers.read_bytes() == raw


@FUZZ
@given(st.binary(max_size=80))
def test_an_audit_record_always_starts_its_own_line_whatever_the_log_ends_with(tmp_path_factory, tail):
    state = StateDir(str(tmp_path_factory.mktemp("state")), "shop")
    state.ensure()
    with open(state.file("audit.log"), "wb") as handle:
        handle.write(tail)
    state.audit("refresh", by={"owner": "ops"})
    last = open(state.file("audit.log"), "rb").read().split(b"\n")[-2]
    assert json.loads(last)["event"] == "refresh"
    assert state.audit_entries()[-1]["event"] == "refresh"


SECRETS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="*"), min_size=6, max_size=24
)


@FUZZ
@given(SECRETS)
def test_a_secret_echoed_back_in_any_escaped_form_is_masked(secret):
    for form in escaped_forms(secret):
        shown = redact("<<%s>>" % form, [secret])
        assert form not in shown and shown.startswith("<<") and MASK in shown, (form, shown)


# -- numeric strings ---------------------------------------------------------------------------------------

NUMBER_TEXT = st.one_of(
    st.text(alphabet="0123456789._-+eE \u0665\u0661\uff15\u096b_", min_size=1, max_size=8),
    st.from_regex(r"\A[+-]?[0-9]{1,4}(\.[0-9]{1,3})?\Z"),
)


def _python_reads(text: str, kind: str):
    try:
        return int(text) if kind == "int" else float(text)
    except ValueError:
        return None


@FUZZ
@given(NUMBER_TEXT, st.sampled_from(["int", "float"]))
def test_a_number_given_as_text_counts_only_in_ascii_digits(text, kind):
    spec = {"n": {"type": kind}}
    problem = validate.raw_number_problem({"n": text}, spec)
    plain = text.strip()
    ascii_number = plain.isascii() and "_" not in plain and _python_reads(plain, kind) is not None
    if _python_reads(text, kind) is None:
        return  # Ansible refuses it itself, before the module runs
    if ascii_number:
        assert problem is None
    else:
        assert problem and problem.startswith("n=") and "digits 0-9" in problem
    # nested options and list elements are checked the same way
    nested = {"o": {"type": "dict", "options": spec}, "l": {"type": "list", "elements": kind}}
    assert bool(validate.raw_number_problem({"o": {"n": text}, "l": [text]}, nested)) == bool(problem)


@pytest.mark.parametrize("text", ["\u0665", "1_0", "\uff11\uff12", "\u0661\u0662.5"])
def test_the_numbers_the_probe_used_are_refused(text):
    assert "digits 0-9" in validate.raw_number_problem({"timeout": text}, {"timeout": {"type": "float"}})
