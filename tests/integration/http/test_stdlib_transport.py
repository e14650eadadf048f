"""The HTTP checks on a Python with nothing but its standard library, as on a minimal managed host.

The release module probes an app host from the host itself, so the engine it shares with readiness_probe and
smoke_test may use only the standard library and what Ansible sends with a module. These tests run the modules
under an interpreter started with ``-S -E`` (no site-packages, no PYTHON* variables: neither requests nor
anything else installed is importable) against real HTTP and HTTPS servers, and check what the transport does
on the wire: TLS verification and client certificates, redirects (followed or judged, credentials kept on the
same origin only, the method and body rules), and Basic authentication from a URL's user-info.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
from zerodown_testkit.support.http_server import Response, serve

HEALTHY = b'{"status": "ok"}'


@pytest.fixture(scope="module")
def stdlib_python(tmp_path_factory):
    """An interpreter that sees only the standard library (what a minimal image has besides python3)."""
    path = tmp_path_factory.mktemp("stdlib-python") / "python3"
    path.write_text('#!/bin/sh\nexec %s -S -E "$@"\n' % sys.executable)
    path.chmod(0o755)
    probe = subprocess.run([str(path), "-c", "import requests"], capture_output=True, text=True, check=False)
    assert probe.returncode != 0 and "No module named 'requests'" in probe.stderr, probe.stderr
    return str(path)


@pytest.fixture
def run_stdlib(module_runner, stdlib_python):
    def run(name, args, **kwargs):
        return module_runner(name, args, env={"ANSIBLE_PYTHON_INTERPRETER": stdlib_python}, **kwargs)

    return run


def healthy(req):
    return Response(200, {"Content-Type": "application/json", "X-App-Version": "2.0.0"}, HEALTHY)


def test_readiness_probe_over_tls_with_a_client_certificate(run_stdlib, tls):
    with serve(healthy, tls=tls, require_client_cert=True) as srv:
        base = {"url": srv.url + "/health", "timeout": 1, "interval": 0.2}
        untrusted = run_stdlib("readiness_probe", base)
        assert untrusted["failed"] and "TLS certificate verification failed" in untrusted["msg"], untrusted["msg"]
        trusted = dict(base, ca_path=str(tls.ca_cert), client_cert=str(tls.client_cert), client_key=str(tls.client_key))
        result = run_stdlib("readiness_probe", dict(trusted, expect_header={"X-App-Version": "2.0.0"}))
        assert not result["failed"] and result["ready"], result
        assert [r.path for r in srv.requests] == ["/health"]


def test_smoke_test_json_and_version(run_stdlib):
    with serve(healthy) as srv:
        checks = [{"name": "health", "path": "/health", "json": {"status": "ok"}}]
        result = run_stdlib("smoke_test", {"base_url": srv.url, "checks": checks, "expect_version": "2.0.0"})
        assert not result["failed"] and result["passed"], result
        wrong = run_stdlib("smoke_test", {"base_url": srv.url, "checks": checks, "expect_version": "3.0.0"})
        assert wrong["failed"] and "version: header X-App-Version is '2.0.0', expected '3.0.0'" in wrong["msg"]


def test_a_redirect_is_the_answer_unless_followed(run_stdlib):
    with serve(healthy) as target, serve(lambda req: Response(302, {"Location": target.url + "/health"})) as srv:
        judged = run_stdlib("readiness_probe", {"url": srv.url, "timeout": 0.5})
        assert judged["failed"] and "status 302 not in [200]" in judged["msg"]
        assert run_stdlib("readiness_probe", {"url": srv.url, "timeout": 0.5, "status_codes": [302]})["ready"]
        assert target.requests == []
        followed = run_stdlib("readiness_probe", {"url": srv.url, "timeout": 2, "follow_redirects": True})
        assert not followed["failed"] and followed["ready"]
        assert [r.path for r in target.requests] == ["/health"]


def test_credentials_stay_on_the_origin_that_was_named(run_stdlib):
    """Authorization follows a redirect on the same origin; another port or host never sees it."""
    with serve(healthy) as other:

        def redirects(req):
            if req.path == "/start":
                return Response(301, {"Location": "/same"})
            if req.path == "/same":
                return Response(307, {"Location": other.url + "/elsewhere"})
            return Response(404)

        with serve(redirects) as srv:
            args = {
                "url": srv.url + "/start",
                "timeout": 2,
                "follow_redirects": True,
                "headers": {"Authorization": "Bearer s3cret-token", "X-Trace": "t1"},
            }
            result = run_stdlib("readiness_probe", args)
            assert not result["failed"], result
            assert [(r.path, r.headers.get("Authorization")) for r in srv.requests] == [
                ("/start", "Bearer s3cret-token"),
                ("/same", "Bearer s3cret-token"),
            ]
            assert [r.path for r in other.requests] == ["/elsewhere"]
            assert "Authorization" not in other.requests[0].headers
            assert "s3cret-token" not in json.dumps(result)


def test_post_after_303_becomes_get_without_its_body_and_307_keeps_both(run_stdlib):
    with serve(lambda req: Response(200, {}, b"done")) as target:

        def redirects(req):
            return Response(303 if req.path == "/see-other" else 307, {"Location": target.url + req.path})

        with serve(redirects) as srv:
            checks = [
                {"name": "see-other", "path": "/see-other", "method": "POST", "body": {"a": 1}},
                {"name": "temporary", "path": "/temporary", "method": "POST", "body": {"b": 2}},
            ]
            result = run_stdlib("smoke_test", {"base_url": srv.url, "checks": checks, "follow_redirects": True})
            assert not result["failed"], result
            first, second = target.requests
            assert (first.method, first.path, first.body) == ("GET", "/see-other", b"")
            assert "Content-Type" not in first.headers
            assert (second.method, second.path, json.loads(second.body)) == ("POST", "/temporary", {"b": 2})
            assert second.headers["Content-Type"] == "application/json"


def test_url_user_info_is_basic_authentication(run_stdlib):
    with serve(healthy) as srv:
        url = srv.url.replace("://", "://probe:pa%3Ass@") + "/health"
        result = run_stdlib("readiness_probe", {"url": url, "timeout": 2})
        assert not result["failed"], result
        sent = srv.requests[0].headers["Authorization"]
        assert sent == "Basic " + base64.b64encode(b"probe:pa:ss").decode("ascii")
        assert "pa%3Ass" not in json.dumps(result) and "pa:ss" not in json.dumps(result)
