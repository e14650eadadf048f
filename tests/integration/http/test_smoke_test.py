"""smoke_test against real HTTP(S) servers started by the tests."""

from __future__ import annotations

import itertools
import json
import threading

from zerodown_testkit.support.http_server import Response, serve


class App:
    """A tiny app: a home page, a health document, an API that accepts POSTs; version from a header and JSON."""

    def __init__(self, versions=("2.0.0",), slow_path=None, delay=0.0):
        self._versions = itertools.cycle(versions)
        self._lock = threading.Lock()
        self.slow_path = slow_path
        self.delay = delay
        self.created = []

    def __call__(self, req):
        with self._lock:
            version = next(self._versions)
        headers = {"X-App-Version": version, "Content-Type": "application/json"}
        delay = self.delay if req.path == self.slow_path else 0.0
        if req.path == "/":
            return Response(200, dict(headers, **{"Content-Type": "text/html"}), b"<title>Shop</title>", delay)
        if req.path == "/health":
            doc = {"status": "ok", "checks": {"db": "up"}, "build": {"version": version}}
            return Response(200, headers, json.dumps(doc).encode(), delay)
        if req.path == "/api/baskets" and req.method == "POST":
            with self._lock:
                self.created.append(json.loads(req.body or b"null"))
            return Response(201, headers, b'{"id": 1}', delay)
        if req.path == "/broken":
            return Response(500, headers, b"Traceback: KeyError 'cart'", delay)
        return Response(404, headers, b"not found", delay)


CHECKS = [
    {"name": "home", "path": "/", "body_regex": "<title>Shop</title>"},
    {"name": "health", "path": "/health", "json": {"status": "ok", "checks.db": "up"}},
    {"name": "create basket", "method": "POST", "path": "/api/baskets", "body": {"items": []}, "status_codes": [201]},
]


def test_all_pass_check_real_again(module_runner):
    app = App()
    with serve(app) as srv:
        args = {"base_url": srv.url, "checks": CHECKS, "rounds": 3, "expect_version": "2.0.0"}
        checked = module_runner("smoke_test", args, check=True)
        assert not checked["failed"] and checked["passed"] and not checked["changed"]
        assert checked["skipped_checks"] == ["create basket"]
        assert [c["skipped"] for c in checked["checks"]] == [False, False, True]
        # check mode sent only the safe requests: 2 checks x 3 rounds, no POST, nothing created
        assert sorted((r.method, r.path) for r in srv.requests) == [("GET", "/")] * 3 + [("GET", "/health")] * 3
        assert app.created == []

        real = module_runner("smoke_test", args)
        assert not real["failed"] and real["passed"] and not real["changed"]
        assert real["skipped_checks"] == [] and real["failed_checks"] == []
        assert [c["rounds_passed"] for c in real["checks"]] == [3, 3, 3]
        assert len(real["rounds"]) == 3 and all(r["passed"] for r in real["rounds"])
        assert real["rounds"][0]["results"][1]["version"] == "2.0.0"
        assert app.created == [{"items": []}] * 3
        assert srv.requests[-1].headers["Content-Type"] == "application/json"

        again = module_runner("smoke_test", args)
        assert not again["failed"] and not again["changed"]
        assert len(srv.requests) == 6 + 9 + 9


def test_every_failing_check_is_listed(module_runner):
    with serve(App()) as srv:
        checks = [
            {"name": "home", "path": "/"},
            {"name": "broken page", "path": "/broken"},
            {"name": "missing page", "path": "/nope"},
            {"name": "health", "path": "/health", "json": {"checks.cache": "up"}},
        ]
        result = module_runner("smoke_test", {"base_url": srv.url, "checks": checks, "rounds": 2})
        assert result["failed"] and result["passed"] is False
        assert result["failed_checks"] == ["broken page", "missing page", "health"]
        msg = result["msg"]
        assert msg.startswith("smoke_test: 3 of 4 check(s) failed: ")
        assert (
            "'broken page' (GET %s/broken) failed 2 of 2 round(s): rounds 1,2: status 500 not in [200]" % srv.url in msg
        )
        assert "Traceback: KeyError 'cart'" in msg
        assert "'missing page'" in msg and "status 404 not in [200]" in msg
        assert "JSON path 'checks.cache' not found in the response" in msg
        assert "'home'" not in msg
        assert len(srv.requests) == 8


def test_wrong_version_answers_in_some_rounds(module_runner):
    # Behind a load balancer one backend of two still runs the old release.
    with serve(App(versions=("2.0.0", "1.9.0"))) as srv:
        checks = [{"name": "health", "path": "/health"}]
        result = module_runner(
            "smoke_test", {"base_url": srv.url, "checks": checks, "rounds": 4, "expect_version": "2.0.0"}
        )
        assert result["failed"]
        summary = result["checks"][0]
        assert summary["rounds_passed"] == 2 and summary["rounds_failed"] == 2
        assert "rounds 2,4: version: header X-App-Version is '1.9.0', expected '2.0.0'" in result["msg"]
        assert [r["version"] for r in result["rounds"][0]["results"]] == ["2.0.0"]

        by_json = module_runner(
            "smoke_test",
            {
                "base_url": srv.url,
                "checks": checks,
                "rounds": 2,
                "expect_version": "2.0.0",
                "version_json_path": "build.version",
            },
        )
        assert by_json["failed"]
        assert "version: JSON build.version is '1.9.0', expected '2.0.0'" in by_json["msg"]


def test_check_version_can_be_turned_off_per_check(module_runner):
    with serve(App(versions=("1.9.0",))) as srv:
        checks = [{"name": "static", "path": "/", "check_version": False}]
        result = module_runner("smoke_test", {"base_url": srv.url, "checks": checks, "expect_version": "2.0.0"})
        assert not result["failed"]


def test_slow_check_beyond_max_latency(module_runner):
    with serve(App(slow_path="/health", delay=0.3)) as srv:
        checks = [
            {"name": "home", "path": "/", "max_latency_ms": 250},
            {"name": "health", "path": "/health", "max_latency_ms": 100},
        ]
        result = module_runner("smoke_test", {"base_url": srv.url, "checks": checks})
        assert result["failed"] and result["failed_checks"] == ["health"]
        assert "above max_latency_ms 100" in result["msg"]
        assert result["checks"][1]["latency_ms_max"] >= 300


def test_request_timeout(module_runner):
    with serve(App(slow_path="/health", delay=3)) as srv:
        result = module_runner(
            "smoke_test",
            {"base_url": srv.url, "request_timeout": 0.5, "checks": [{"name": "health", "path": "/health"}]},
        )
        assert result["failed"]
        assert "request failed: timed out: no answer within 0.5s" in result["msg"]


def test_tls_through_ca_path_and_base_path(module_runner, tls):
    with serve(App(), tls=tls) as srv:
        checks = [{"name": "health", "path": "health"}]
        untrusted = module_runner("smoke_test", {"base_url": srv.url, "checks": checks})
        assert untrusted["failed"] and "TLS certificate verification failed" in untrusted["msg"]
        trusted = module_runner(
            "smoke_test", {"base_url": srv.url + "/", "checks": checks, "ca_path": str(tls.ca_cert)}
        )
        assert not trusted["failed"]
        assert trusted["checks"][0]["url"] == srv.url + "/health"
        assert [r.path for r in srv.requests] == ["/health"]


def test_client_certificate_required(module_runner, tls):
    with serve(App(), tls=tls, require_client_cert=True) as srv:
        base = {"base_url": srv.url, "checks": [{"name": "home"}], "ca_path": str(tls.ca_cert)}
        assert module_runner("smoke_test", base)["failed"]
        good = module_runner("smoke_test", dict(base, client_cert=str(tls.client_cert), client_key=str(tls.client_key)))
        assert not good["failed"]


def test_connection_refused(module_runner, closed_port):
    result = module_runner(
        "smoke_test", {"base_url": "http://127.0.0.1:%d" % closed_port, "checks": [{"name": "a"}, {"name": "b"}]}
    )
    assert result["failed"] and result["failed_checks"] == ["a", "b"]
    assert result["msg"].count("request failed: connection refused") == 2


def test_headers_merge_and_are_not_logged(module_runner):
    with serve(App()) as srv:
        result = module_runner(
            "smoke_test",
            {
                "base_url": srv.url,
                "headers": {"Authorization": "Bearer common-s3cret", "X-Trace": "a"},
                "checks": [{"name": "home", "headers": {"X-Trace": "b", "X-Api-Key": "check-s3cret"}}],
            },
        )
        assert not result["failed"]
        sent = srv.requests[0].headers
        assert sent["Authorization"] == "Bearer common-s3cret"
        assert sent["X-Trace"] == "b" and sent["X-Api-Key"] == "check-s3cret"
        assert "s3cret" not in json.dumps(result)


def test_bad_input_fails_before_any_request(module_runner):
    with serve(App()) as srv:
        ok = {"name": "home"}
        cases = [
            (
                {"base_url": "ftp://example/", "checks": [ok]},
                "base_url: URL 'ftp://example/' must start with http:// or https://",
            ),
            ({"base_url": "http//host", "checks": [ok]}, "base_url: URL 'http//host' must start with"),
            ({"base_url": srv.url, "checks": []}, "checks: give at least one check"),
            ({"base_url": srv.url, "checks": [ok, ok]}, "checks[1].name: check name 'home' is used twice"),
            (
                {"base_url": srv.url, "checks": [ok], "rounds": 0},
                "rounds=0: give a whole number of 1 or more, at most 100",
            ),
            (
                {"base_url": srv.url, "checks": [ok], "request_timeout": -2},
                "request_timeout=-2.0: give more than 0 seconds",
            ),
            (
                {"base_url": srv.url, "checks": [{"name": "x", "body_regex": "*oops"}]},
                "checks['x'].body_regex: invalid regular expression '*oops'",
            ),
            (
                {"base_url": srv.url, "checks": [{"name": "x", "path": "http://other/"}]},
                "checks['x'].path: 'http://other/' must be a path such as /health",
            ),
            (
                {"base_url": srv.url, "checks": [{"name": "x", "json": {"a.": 1}}]},
                "checks['x'].json: JSON path 'a.' has an empty segment",
            ),
            (
                {"base_url": srv.url, "checks": [{"name": "x", "max_latency_ms": -5}]},
                "checks['x'].max_latency_ms=-5.0: give more than 0 milliseconds",
            ),
            (
                {
                    "base_url": srv.url,
                    "checks": [{"name": "x", "method": "HEAD"}],
                    "expect_version": "2",
                    "version_json_path": "v",
                },
                "set check_version: false",
            ),
            (
                {"base_url": srv.url, "checks": [ok], "expect_version": "2", "version_json_path": "a..b"},
                "version_json_path",
            ),
            ({"base_url": srv.url, "checks": [{"name": "x", "method": "TRACE"}]}, "value of method must be one of"),
            ({"base_url": srv.url, "checks": [ok], "client_key": "/tmp/k.pem"}, "client_key"),
        ]
        for args, fragment in cases:
            result = module_runner("smoke_test", args)
            assert result["failed"], args
            assert fragment in result["msg"], (fragment, result["msg"])
        assert srv.requests == []


def _redirecting(to):
    """/moved redirects to ``to()`` (another server: another origin), /here to /health on this one."""

    def app(req):
        if req.path == "/moved":
            return Response(302, {"Location": to() + "/landing"})
        if req.path == "/here":
            return Response(307, {"Location": "/health"})
        return App()(req)

    return app


def test_a_redirect_to_another_origin_carries_none_of_the_users_headers(module_runner):
    """X-Api-Key and the like go to the host the user named, and to a redirect on that same origin only."""
    with serve(lambda req: Response(200, {"Content-Type": "text/plain"}, b"landed")) as other:
        with serve(_redirecting(lambda: other.url)) as srv:
            result = module_runner(
                "smoke_test",
                {
                    "base_url": srv.url,
                    "follow_redirects": True,
                    "headers": {"Authorization": "Bearer common-s3cret", "X-Api-Key": "key-s3cret", "X-Trace": "t"},
                    "checks": [{"name": "moved", "path": "/moved"}, {"name": "here", "path": "/here"}],
                },
            )
            assert not result["failed"], result
            landed = other.requests[0].headers
            assert other.requests[0].path == "/landing"
            for name in ("Authorization", "X-Api-Key", "X-Trace"):
                assert name not in landed, landed
            same = [r for r in srv.requests if r.path == "/health"][0].headers
            assert same["X-Api-Key"] == "key-s3cret" and same["Authorization"] == "Bearer common-s3cret"
            assert "s3cret" not in json.dumps(result)
