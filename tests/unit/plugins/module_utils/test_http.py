from __future__ import annotations

import base64
import socket
import ssl
import threading
import urllib.error

import pytest
from zerodown_testkit.support.fake_clock import FakeClock

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import Clock
from ansible_collections.zerodown.deploy.plugins.module_utils.probe import checks as checks_module
from ansible_collections.zerodown.deploy.plugins.module_utils.probe import readiness as readiness_engine
from ansible_collections.zerodown.deploy.plugins.module_utils.probe import smoke as smoke_engine
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.checks import HttpChecker, json_values_equal
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.options import (
    CheckSpec,
    Expectations,
    HttpOptionError,
    TLSOptions,
    VersionExpectation,
    compile_regex,
    join_url,
    option_number,
    parse_header_expectations,
    parse_json_expectations,
    parse_json_path,
    validate_headers,
    validate_status_codes,
    validate_url,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.readiness import (
    MAX_REPORTED_ATTEMPTS,
    MIN_ATTEMPT_TIMEOUT,
    probe_target,
    probe_until_ready,
    wait_ready,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.smoke import (
    NamedCheck,
    run_smoke_test,
    smoke_failure_message,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.transport import (
    RawResponse,
    TransportError,
    describe_exception,
    headers_after_redirect,
    keeps_credentials,
    redirect_target,
    tls_context,
    without_userinfo,
)


class FakeTransport:
    """Answers from a script per URL; each item is a RawResponse, a TransportError or a callable."""

    def __init__(self, clock: FakeClock | None = None, latency: float = 0.01, script: dict | None = None) -> None:
        self.clock = clock
        self.latency = latency
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.calls: list = []
        self._lock = threading.Lock()

    def _next(self, url, timeout):
        with self._lock:
            self.calls.append((url, timeout))
            items = self.script[url]
            item = items.pop(0) if len(items) > 1 else items[0]
        if self.clock is not None:
            self.clock.sleep(self.latency)
        if callable(item):
            item = item()
        if isinstance(item, Exception):
            raise item
        return item

    def http(self, spec, timeout):
        return self._next(spec.url, timeout)

    def tcp(self, host, port, timeout):
        self._next("tcp://%s:%d" % (host, port), timeout)


def ok(body=b'{"status": "ok"}', status=200, headers=None):
    return RawResponse(status, headers or {"Content-Type": "application/json"}, body)


URL = "http://app:8080/health"


def check(response, expect=None, latency=0.01, **spec_args):
    clock = FakeClock()
    transport = FakeTransport(clock, latency, {spec_args.get("url", URL): [response]})
    spec_args.setdefault("url", URL)
    return HttpChecker(transport, clock).check(CheckSpec(expect=expect or Expectations(), **spec_args))


# -- validation ---------------------------------------------------------------


@pytest.mark.parametrize("value", [-1, 0, "abc", float("nan"), None, float("inf"), 1e13, "\uff15", True])
def test_option_number_rejects_and_names_the_value(value):
    with pytest.raises(HttpOptionError) as err:
        option_number(value, "timeout", validate.TIMEOUT)
    assert str(err.value).startswith("timeout=%s" % validate.shown(value))
    assert "give more than 0 seconds, at most 2592000" in str(err.value)
    assert err.value.option == "timeout"


def test_option_number_accepts_ascii_strings_and_zero_when_allowed():
    assert option_number("2.5", "interval", validate.INTERVAL) == 2.5
    assert option_number(0, "x", validate.WAIT) == 0


@pytest.mark.parametrize("value", [0, -3, True, 101, 2.5, "\u0661\u0662"])
def test_repeat_counts_are_whole_and_capped(value):
    with pytest.raises(HttpOptionError, match="successes=.*at most 100"):
        option_number(value, "successes", validate.REPEATS)


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("htp://app/health", "must start with http:// or https://"),
        ("app:8080/health", "must start with"),
        ("http:///health", "no host name"),
        ("http://app:99999/", "invalid port"),
        ("http://app:0/", "invalid port"),
        ("http://app/he alth", "whitespace"),
        ("http://app/\r\nX: y", "control characters"),
        ("tcp://db:5432", "must start with http:// or https://"),
        ("", "expected a URL"),
        (None, "expected a URL"),
    ],
)
def test_validate_url_rejects(value, fragment):
    with pytest.raises(HttpOptionError) as err:
        validate_url(value, "url")
    assert fragment in str(err.value)
    assert str(err.value).startswith("url: ")


@pytest.mark.parametrize(
    "value, fragment",
    [("tcp://db", "needs a port"), ("tcp://db:5432/x", "only tcp://HOST:PORT"), ("ftp://db:21", "tcp://")],
)
def test_validate_url_tcp_rules(value, fragment):
    with pytest.raises(HttpOptionError, match=fragment):
        validate_url(value, "urls", allow_tcp=True)


@pytest.mark.parametrize("value", ["http://app/health", "https://[::1]:8443/x?y=1", "tcp://10.0.0.1:5432"])
def test_validate_url_accepts(value):
    assert validate_url(value, "url", allow_tcp=True) == value


def test_compile_regex_names_the_pattern():
    with pytest.raises(HttpOptionError) as err:
        compile_regex("ok(", "body_regex")
    assert "body_regex: invalid regular expression 'ok('" in str(err.value)
    assert compile_regex(None, "body_regex") is None


@pytest.mark.parametrize("path", ["", "a..b", ".a", "a.", None])
def test_json_path_syntax(path):
    with pytest.raises(HttpOptionError, match="json"):
        parse_json_path(path, "json")


def test_json_path_escaped_dot():
    assert parse_json_path("a\\.b.c", "json") == ("a.b", "c")
    assert parse_json_expectations({"checks.db": "up"}, "json") == {"checks.db": (("checks", "db"), "up")}


def test_headers_reject_line_breaks_without_echoing_the_value():
    with pytest.raises(HttpOptionError) as err:
        validate_headers({"Authorization": "Bearer s3cret\r\nX-Evil: 1"}, "headers")
    assert "Authorization" in str(err.value)
    assert "s3cret" not in str(err.value)
    with pytest.raises(HttpOptionError, match="invalid header name"):
        validate_headers({"Bad Header": "x"}, "headers")
    assert validate_headers({"X-N": 5}, "headers") == {"X-N": "5"}


def test_header_expectations_forms():
    exact, regex = parse_header_expectations({"X-App-Version": 2, "Server": {"regex": "^gunicorn"}}, "expect_header")
    assert exact.value == "2" and exact.regex is None
    assert regex.regex.pattern == "^gunicorn"
    with pytest.raises(HttpOptionError, match="expect_header.Server.regex: invalid regular expression"):
        parse_header_expectations({"Server": {"regex": "["}}, "expect_header")
    with pytest.raises(HttpOptionError, match="give either a string"):
        parse_header_expectations({"Server": {"regexp": "x"}}, "expect_header")


def test_status_codes():
    assert validate_status_codes(None, "status_codes") == [200]
    assert validate_status_codes([200, "204"], "status_codes") == [200, 204]
    with pytest.raises(HttpOptionError, match="700"):
        validate_status_codes([200, 700], "status_codes")
    with pytest.raises(HttpOptionError, match="at least one"):
        validate_status_codes([], "status_codes")


def test_join_url_keeps_the_base_path():
    assert join_url("https://lb/app", "/health") == "https://lb/app/health"
    assert join_url("https://lb/app/", "health?x=1") == "https://lb/app/health?x=1"
    assert join_url("https://lb", "") == "https://lb"


def test_tcp_spec_refuses_http_assertions():
    with pytest.raises(HttpOptionError, match="plain TCP target"):
        CheckSpec("tcp://db:5432", expect=Expectations(body_regex=compile_regex("x", "body_regex")))


def test_dict_body_is_sent_as_json():
    spec = CheckSpec(URL, method="post", body={"a": 1})
    assert spec.method == "POST"
    assert spec.body == b'{"a": 1}'
    assert spec.headers["Content-Type"] == "application/json"
    assert CheckSpec(URL, body="x=1", headers={"content-type": "text/plain"}).headers == {"content-type": "text/plain"}
    with pytest.raises(HttpOptionError, match="unsupported method 'TRACE'"):
        CheckSpec(URL, method="TRACE")


# -- judging one answer ---------------------------------------------------------


def test_healthy_answer():
    result = check(ok(), latency=0.0042)
    assert result.ok and result.reason is None and result.status == 200
    assert result.latency_ms == 4.2


def test_status_failure_quotes_the_body():
    result = check(ok(b"<html>  upstream\n  not ready</html>", status=503))
    assert not result.ok
    assert result.reason == "status 503 not in [200]; response body: '<html> upstream not ready</html>'"


def test_long_body_snippet_is_cut():
    result = check(ok(b"x" * 5000, status=500))
    assert result.reason.endswith("...'")
    assert len(result.reason) < 300


def test_every_failed_assertion_is_listed():
    expect = Expectations(
        status_codes=[200],
        body_regex=compile_regex('"status": "ok"', "body_regex"),
        json_fields=parse_json_expectations({"status": "ok", "checks.db": "up", "checks.cache": "up"}, "json"),
        headers=parse_header_expectations({"X-App-Version": "2.0"}, "expect_header"),
    )
    body = b'{"status": "degraded", "checks": {"db": "down"}}'
    result = check(ok(body, headers={"X-App-Version": "1.9"}), expect)
    assert result.reasons == [
        'body does not match /"status": "ok"/',
        'JSON status is "degraded", expected "ok"',
        'JSON checks.db is "down", expected "up"',
        "JSON path 'checks.cache' not found in the response",
        "header X-App-Version is '1.9', expected '2.0'",
    ]


def test_json_list_index_and_non_json_body():
    expect = Expectations(json_fields=parse_json_expectations({"items.1.state": "up", "count": 2}, "json"))
    assert check(ok(b'{"items": [{"state": "down"}, {"state": "up"}], "count": "2"}'), expect).ok
    result = check(ok(b"<html>"), expect)
    assert result.reasons == ["response body is not JSON"]


@pytest.mark.parametrize(
    "actual, expected, equal",
    [
        ("ok", "ok", True),
        (2, "2", True),
        (2, 2.0, True),
        (True, "true", True),
        (True, 1, False),
        (None, "null", True),
        ({"a": 1}, "{'a': 1}", False),
        ([1], [1], True),
        ("up", "down", False),
    ],
)
def test_json_values_equal(actual, expected, equal):
    assert json_values_equal(actual, expected) is equal


def test_header_regex_and_missing_header():
    expect = Expectations(headers=parse_header_expectations({"Server": {"regex": "^gunicorn/2"}, "X-Id": "a"}, "e"))
    result = check(ok(headers={"server": "nginx"}), expect)
    assert result.reasons == [
        "header Server is 'nginx', expected matching /^gunicorn/2/",
        "header X-Id missing (expected 'a')",
    ]


def test_max_latency():
    expect = Expectations(max_latency_ms=100)
    assert check(ok(), expect, latency=0.05).ok
    slow = check(ok(), expect, latency=0.25)
    assert slow.reasons == ["latency 250ms above max_latency_ms 100"]


def test_version_from_header_and_json():
    by_header = Expectations(version=VersionExpectation("2.0", header="X-App-Version"))
    result = check(ok(headers={"X-App-Version": "1.9"}), by_header)
    assert result.reasons == ["version: header X-App-Version is '1.9', expected '2.0'"]
    assert result.version == "1.9"
    assert check(ok(headers={"x-app-version": " 2.0 "}), by_header).ok
    assert check(ok(headers={}), by_header).reasons == ["version: header X-App-Version missing (expected '2.0')"]
    by_json = Expectations(version=VersionExpectation("2.0", json_path="build.version"))
    assert check(ok(b'{"build": {"version": "2.0"}}'), by_json).ok
    assert check(ok(b'{"build": {}}'), by_json).reasons == [
        "version: JSON path 'build.version' not found in the response (expected '2.0')"
    ]


def test_transport_error_is_a_failed_result():
    result = check(TransportError("connection refused"))
    assert not result.ok and result.status is None
    assert result.error == "connection refused"
    assert result.reason == "request failed: connection refused"


def test_tcp_checks():
    assert check(None, url="tcp://db:5432").ok
    refused = check(TransportError("connection refused"), url="tcp://db:5432")
    assert refused.method == "TCP" and refused.reason == "request failed: connection refused"


def test_head_answer_without_body():
    result = check(ok(b"", status=404), method="HEAD")
    assert result.reason == "status 404 not in [200]; empty response body"


# -- describing network errors --------------------------------------------------


def _chained(outer: Exception, inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except Exception as final:
        return final


def test_describe_exception():
    assert (
        describe_exception(_chained(OSError("wrapper"), ConnectionRefusedError(111, "refused")), 2)
        == "connection refused"
    )
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "self-signed certificate in certificate chain"
    assert (
        describe_exception(_chained(OSError("x"), verify), 2)
        == "TLS certificate verification failed: self-signed certificate in certificate chain"
    )
    assert describe_exception(socket.timeout("timed out"), 1.5) == "timed out: no answer within 1.5s"
    assert describe_exception(socket.gaierror(-2, "Name or service not known"), 1).startswith(
        "cannot resolve host name"
    )
    # urllib wraps a failed connect (a TLS handshake too) in URLError; a read that times out comes as it is
    connect = urllib.error.URLError(socket.timeout("timed out"))
    assert describe_exception(connect, 0.5) == "timed out: no connect within 0.5s"


# -- the standard-library transport's redirect and credential rules ----------------


@pytest.mark.parametrize(
    "old, new, kept",
    [
        ("http://lb/a", "http://lb/b", True),
        ("http://lb/a", "http://LB:80/b", True),
        ("https://lb/a", "https://lb:443/b", True),
        ("http://lb/a", "https://lb/b", True),  # the upgrade to TLS on the default ports
        ("https://lb/a", "http://lb/b", False),  # never down to clear text
        ("http://lb/a", "http://lb:8080/b", False),
        ("http://lb:8080/a", "https://lb:8443/b", False),
        ("http://lb/a", "http://other/b", False),
        ("http://lb/a", "http://lb.evil.example/b", False),
    ],
)
def test_credentials_follow_a_redirect_only_on_the_same_origin(old, new, kept):
    assert keeps_credentials(old, new) is kept


@pytest.mark.parametrize(
    "method, status, expected",
    [
        ("POST", 301, ("GET", False)),
        ("PUT", 301, ("PUT", False)),
        ("POST", 302, ("GET", False)),
        ("HEAD", 302, ("HEAD", False)),
        ("DELETE", 303, ("GET", False)),
        ("HEAD", 303, ("HEAD", False)),
        ("POST", 307, ("POST", True)),
        ("PATCH", 308, ("PATCH", True)),
    ],
)
def test_redirect_target_method_and_body(method, status, expected):
    new_method, url, keep_body = redirect_target(method, "http://lb/app/health", status, " ../login ")
    assert (new_method, keep_body) == expected
    assert url == "http://lb/login"


def test_url_user_info_becomes_basic_authentication():
    assert without_userinfo("http://lb:8080/health") == ("http://lb:8080/health", None)
    url, basic = without_userinfo("https://probe:p%40ss%3Aword@lb:8443/health?x=1")
    assert url == "https://lb:8443/health?x=1"
    assert basic == "Basic " + base64.b64encode(b"probe:p@ss:word").decode("ascii")


def test_tls_context_verifies_unless_told_not_to():
    default = tls_context(TLSOptions())
    assert default.verify_mode == ssl.CERT_REQUIRED and default.check_hostname
    off = tls_context(TLSOptions(validate_certs=False))
    assert off.verify_mode == ssl.CERT_NONE and not off.check_hostname


# -- readiness --------------------------------------------------------------------


def probe(script, successes=1, timeout=10.0, interval=1.0, request_timeout=5.0, expect=None):
    clock = FakeClock()
    transport = FakeTransport(clock, 0.01, {URL: script})
    checker = HttpChecker(transport, clock)
    spec = CheckSpec(URL, timeout=request_timeout, expect=expect or Expectations())
    return probe_target(checker, spec, clock.monotonic() + timeout, interval, successes, 0.0), transport, clock


def test_ready_after_a_delay():
    starting = ok(b'{"status": "starting"}', status=503)
    progress = probe([starting, starting, ok()], successes=1)[0]
    assert progress.ready and progress.attempt_count == 3 and progress.failures == 2
    assert progress.time_to_ready == pytest.approx(2.03)
    assert progress.to_dict()["last_reason"].startswith("status 503 not in [200]")


def test_flapping_resets_the_consecutive_count():
    bad = ok(status=500)
    progress = probe([ok(), ok(), bad, ok(), bad, ok(), ok(), ok()], successes=3)[0]
    assert progress.ready
    assert progress.attempt_count == 8
    assert progress.successes == 6 and progress.failures == 2
    assert [a["ok"] for a in progress.to_dict()["attempts"]] == [True, True, False, True, False, True, True, True]


def test_never_ready_stops_at_the_deadline_and_says_why():
    progress, transport, clock = probe([ok(b"booting", status=503)], timeout=5, interval=1, successes=2)
    assert not progress.ready
    assert clock.now == pytest.approx(5.01, abs=0.02)
    message = progress.failure_message(2)
    assert message.startswith(URL + ": 0 of 2 consecutive successes after 5 attempts (5 failed)")
    assert "last failure: status 503 not in [200]; response body: 'booting'" in message


def test_attempts_never_wait_past_the_deadline():
    progress, transport, _clock = probe([ok(status=500)], timeout=2.5, interval=1, request_timeout=5)
    timeouts = [timeout for _url, timeout in transport.calls]
    assert timeouts[0] == pytest.approx(2.5)
    assert all(t <= 2.5 for t in timeouts)
    assert timeouts[-1] == pytest.approx(0.48)  # what was left at the third attempt
    assert progress.attempt_count == 3  # none started in the last moment


def test_first_attempt_always_runs_even_with_a_tiny_deadline():
    progress, transport, _clock = probe([ok()], timeout=0.01, interval=1, request_timeout=5)
    assert progress.ready
    assert transport.calls[0][1] == pytest.approx(MIN_ATTEMPT_TIMEOUT)


def test_reported_attempts_are_capped():
    progress = probe([ok(status=500)], timeout=100, interval=1)[0]
    data = progress.to_dict()
    assert data["attempt_count"] == 99  # 1.01 s apart (10 ms latency), none in the last moment
    assert len(data["attempts"]) == MAX_REPORTED_ATTEMPTS
    assert data["attempts_truncated"] is True
    assert data["attempts"][-1]["attempt"] == 99


def test_probe_until_ready_runs_every_url_concurrently():
    other = "http://app2:8080/health"
    transport = FakeTransport(None, 0, {URL: [ok(status=503), ok()], other: [ok()]})
    checker = HttpChecker(transport, Clock())
    started = []

    def factory(**kwargs):
        thread = threading.Thread(target=kwargs.pop("target"), **kwargs)
        started.append(thread)
        return thread

    specs = [CheckSpec(URL), CheckSpec(other)]
    ready, elapsed, progress = probe_until_ready(
        checker, specs, timeout=5, interval=0.01, successes=2, thread_factory=factory
    )
    assert ready and len(started) == 2
    assert [p.url for p in progress] == [URL, other]
    assert progress[0].attempt_count == 3 and progress[1].attempt_count == 2
    assert elapsed < 5


def test_probe_until_ready_reports_the_one_not_ready():
    other = "http://app2:8080/health"
    transport = FakeTransport(None, 0, {URL: [ok()], other: [TransportError("connection refused")]})
    ready, elapsed, progress = probe_until_ready(
        HttpChecker(transport, Clock()), [CheckSpec(URL), CheckSpec(other)], timeout=0.3, interval=0.05, successes=1
    )
    assert not ready
    assert progress[0].ready and not progress[1].ready
    assert "last failure: request failed: connection refused" in progress[1].failure_message(1)


def test_probe_until_ready_reraises_bugs_from_threads():
    class Broken(FakeTransport):
        def http(self, spec, timeout):
            raise KeyError("bug")

    with pytest.raises(KeyError):
        probe_until_ready(HttpChecker(Broken(), Clock()), [CheckSpec(URL), CheckSpec(URL + "2")], 1, 0.1, 1)


def test_wait_ready_ends_at_once_when_the_service_is_known_to_be_broken():
    clock = FakeClock()
    transport = FakeTransport(clock, 0.01, {URL: [TransportError("connection refused")] * 100})
    looks = []

    def broken():
        looks.append(clock.now)
        return "app.service is failed/failed (result exit-code)" if len(looks) >= 3 else None

    out = wait_ready(
        HttpChecker(transport, clock), [CheckSpec(URL)], timeout=60, interval=1, successes=1, broken=broken
    )
    assert out["ready"] is False and len(looks) == 3
    assert out["elapsed"] < 3, "seconds, not the 60 s timeout"
    assert out["broken"] == "app.service is failed/failed (result exit-code)"
    assert out["msg"].startswith("gave up after") and "of the 60s timeout: app.service is failed" in out["msg"]
    assert out["results"][0]["broken"] == out["broken"]
    # a healthy service is never asked about: broken() runs only after a failed check
    looks.clear()
    out = wait_ready(
        HttpChecker(FakeTransport(clock, 0.01, {URL: [ok()]}), clock), [CheckSpec(URL)], 60, 1, 1, broken=broken
    )
    assert out["ready"] is True and looks == [] and "broken" not in out


# -- smoke tests ------------------------------------------------------------------


def smoke(script, checks, rounds=1, safe_only=False):
    transport = FakeTransport(FakeClock(), 0.01, script)
    return run_smoke_test(HttpChecker(transport, transport.clock), checks, rounds, safe_only), transport


def test_smoke_lists_every_failing_check():
    a, b, c = "http://lb/a", "http://lb/b", "http://lb/c"
    checks = [NamedCheck("a", CheckSpec(a)), NamedCheck("b", CheckSpec(b)), NamedCheck("c", CheckSpec(c))]
    outcome = smoke({a: [ok(status=500)], b: [ok()], c: [ok(), TransportError("connection refused")]}, checks, 2)[0]
    assert not outcome["passed"]
    assert outcome["failed_checks"] == ["a", "c"]
    assert [r["passed"] for r in outcome["rounds"]] == [False, False]
    assert outcome["checks"][0]["rounds_failed"] == 2 and outcome["checks"][2]["rounds_passed"] == 1
    assert outcome["checks"][2]["reasons"] == ["round 2: request failed: connection refused"]
    message = smoke_failure_message(outcome)
    assert message.startswith(
        "2 of 3 check(s) failed: 'a' (GET http://lb/a) failed 2 of 2 round(s): rounds 1,2: status 500"
    )
    assert "'c' (GET http://lb/c) failed 1 of 2 round(s): round 2: request failed: connection refused" in message
    assert "'b'" not in message


def test_smoke_check_mode_skips_unsafe_methods():
    url = "http://lb/basket"
    checks = [NamedCheck("read", CheckSpec(url)), NamedCheck("write", CheckSpec(url, method="POST", body={}))]
    outcome, transport = smoke({url: [ok()]}, checks, rounds=2, safe_only=True)
    assert outcome["passed"]
    assert outcome["skipped_checks"] == ["write"]
    assert len(transport.calls) == 2
    skipped = outcome["rounds"][0]["results"][1]
    assert skipped["skipped"] is True and skipped["ok"] is None
    assert skipped["reason"] == "skipped in check mode: POST is not a safe method"
    outcome, transport = smoke({url: [ok()]}, checks, rounds=2, safe_only=False)
    assert outcome["skipped_checks"] == [] and len(transport.calls) == 4


def test_head_cannot_judge_a_body():
    with pytest.raises(HttpOptionError, match="a HEAD answer has no body"):
        CheckSpec(URL, method="HEAD", expect=Expectations(body_regex=compile_regex("ok", "body_regex")))


def test_unknown_charset_falls_back_to_utf8():
    assert RawResponse(200, {}, "é".encode(), "no-such-charset").text() == "é"


# -- hostile input: URLs that do not parse, JSON too deep, indexes too long ---------------------------------


@pytest.mark.parametrize("value", ["http://[::1/", "http://[::1", "https://[fe80::1%25eth0/x", "http://]::1[/"])
def test_a_url_that_cannot_be_parsed_is_a_clear_error(value):
    with pytest.raises(HttpOptionError, match="url: URL .* (cannot be parsed|has no host|invalid port)"):
        validate_url(value, "url")


@pytest.mark.parametrize("depth", [101, 5000, 100000])
def test_a_json_answer_nested_too_deep_is_a_failed_check_not_a_traceback(depth):
    expect = Expectations(json_fields=parse_json_expectations({"status": "ok"}, "json"))
    result = check(ok(b"[" * depth + b"]" * depth), expect)
    assert not result.ok and result.reasons == ["response body is JSON nested deeper than 100 levels"]


def test_a_json_answer_nested_within_the_bound_is_judged():
    expect = Expectations(json_fields=parse_json_expectations({"a.0.0": [[]]}, "json"))
    nested = b'{"a": ' + b"[" * 99 + b"]" * 99 + b"}"
    assert check(ok(nested), expect).reasons == ["JSON a.0.0 is %s, expected [[]]" % ("[" * 97 + "]" * 97)]


def test_a_json_path_index_of_thousands_of_digits_is_not_found():
    path = "items." + "9" * 5000
    expect = Expectations(json_fields=parse_json_expectations({path: "up"}, "json"))
    result = check(ok(b'{"items": ["up"]}'), expect)
    assert result.reasons == ["JSON path %r not found in the response" % path]


@pytest.mark.parametrize(
    "first, then, kept",
    [
        ("http://app:8080/a", "http://app:8080/b", True),
        ("http://APP:8080/a", "http://app:8080/b?x", True),
        ("https://app/a", "https://app:443/b", True),  # the default port made explicit
        ("http://app:8080/a", "http://app:8081/a", False),
        ("http://app/a", "http://evil.example/a", False),
        ("https://app/a", "http://app/a", False),  # a downgrade to plain HTTP
        ("http://app/a", "https://app/a", True),  # an upgrade to HTTPS on the same host
        ("http://app/a", "http://[::1/", False),  # a Location that does not parse
    ],
)
def test_user_headers_follow_a_redirect_only_to_the_same_origin(first, then, kept):
    headers = {"X-Api-Key": "k", "Authorization": "Bearer t"}
    assert headers_after_redirect(headers, first, then) == (headers if kept else {})


# -- the modules' engines: run(params, check_mode), without AnsibleModule ---------------------------------


@pytest.fixture
def engine_transport(monkeypatch):
    """``engine_transport(script)``: the fake every HttpChecker the engines build sends through, on fake time."""

    def install(script):
        clock = FakeClock()
        transport = FakeTransport(clock, 0.01, script)
        monkeypatch.setattr(checks_module, "UrllibTransport", lambda: transport)
        monkeypatch.setattr(checks_module, "Clock", lambda: clock)
        return transport

    return install


def test_readiness_run_answers_ready_and_changes_nothing(engine_transport):
    engine_transport({URL: [ok()]})
    out = readiness_engine.run({"url": URL, "successes": 2, "interval": 0.1}, check_mode=True)
    assert out["changed"] is False and out["ready"] is True
    assert out["results"][0]["consecutive_successes"] == 2 and "msg" not in out


def test_readiness_run_fails_with_every_reason_and_the_partial_result(engine_transport):
    engine_transport({URL: [ok(status=503)]})
    with pytest.raises(ModuleFailure) as failure:
        readiness_engine.run({"url": URL, "timeout": 2}, check_mode=False)
    assert failure.value.msg.startswith("readiness_probe: 1 of 1 URL(s) not ready within 2s: ")
    assert "status 503 not in [200]" in failure.value.msg
    assert failure.value.result["ready"] is False and "msg" not in failure.value.result
    assert failure.value.result["results"][0]["url"] == URL


def test_readiness_run_names_a_bad_option_without_the_url_password():
    with pytest.raises(ModuleFailure) as failure:
        readiness_engine.run({"url": "http://probe:s3cr3t-pw@app:99999/health"}, check_mode=False)
    assert failure.value.msg.startswith("readiness_probe: url: URL ") and "invalid port" in failure.value.msg
    assert "s3cr3t-pw" not in failure.value.msg
    assert failure.value.result == {"ready": False, "elapsed": 0.0, "results": []}


SMOKE_DEFAULTS = {
    "rounds": 1,
    "expect_version": None,
    "version_header": "X-App-Version",
    "version_json_path": None,
    "headers": None,
    "request_timeout": 10,
    "validate_certs": True,
    "ca_path": None,
    "client_cert": None,
    "client_key": None,
    "follow_redirects": False,
}
CHECK_DEFAULTS = {
    "path": "/",
    "method": "GET",
    "body": None,
    "headers": None,
    "status_codes": [200],
    "body_regex": None,
    "json": None,
    "expect_header": None,
    "max_latency_ms": None,
    "check_version": True,
}


def smoke_params(*checks_given, **options):
    checks_list = [dict(CHECK_DEFAULTS, **c) for c in checks_given]
    return dict(SMOKE_DEFAULTS, base_url="http://lb", checks=checks_list, **options)


def test_smoke_run_in_check_mode_skips_what_may_change_the_app(engine_transport):
    transport = engine_transport({"http://lb/health": [ok()], "http://lb/basket": [ok()]})
    params = smoke_params({"name": "health", "path": "/health"}, {"name": "buy", "path": "/basket", "method": "POST"})
    out = smoke_engine.run(params, check_mode=True)
    assert out["changed"] is False and out["passed"] is True
    assert out["skipped_checks"] == ["buy"] and [c[0] for c in transport.calls] == ["http://lb/health"]


def test_smoke_run_fails_naming_every_failing_check(engine_transport):
    engine_transport({"http://lb/health": [ok(status=500)]})
    with pytest.raises(ModuleFailure) as failure:
        smoke_engine.run(smoke_params({"name": "health", "path": "/health"}, rounds=2), check_mode=False)
    assert failure.value.msg.startswith(
        "smoke_test: 1 of 1 check(s) failed: 'health' (GET http://lb/health) failed 2 of 2 round(s): rounds 1,2: "
    )
    assert failure.value.result["failed_checks"] == ["health"] and "msg" not in failure.value.result


def test_smoke_run_names_a_bad_option_with_an_empty_result():
    with pytest.raises(ModuleFailure) as failure:
        smoke_engine.run(smoke_params({"name": "a"}, {"name": "a"}), check_mode=False)
    assert failure.value.msg == "smoke_test: checks[1].name: check name 'a' is used twice; names must be unique"
    assert failure.value.result == {
        "passed": False,
        "elapsed": 0.0,
        "checks": [],
        "rounds": [],
        "failed_checks": [],
        "skipped_checks": [],
    }
