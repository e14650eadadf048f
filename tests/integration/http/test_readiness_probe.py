"""readiness_probe against real HTTP(S) servers started by the tests."""

from __future__ import annotations

import json
import socket
import threading
import time

from zerodown_testkit.support.http_server import Response, serve

HEALTHY = b'{"status": "ok", "checks": {"db": "up"}}'


class Becomes:
    """Answers 503 until ``after`` seconds past the first request, then healthy with version ``version``."""

    def __init__(self, after: float, version: str = "2.0.0") -> None:
        self.after = after
        self.version = version
        self.first = None
        self.lock = threading.Lock()

    def __call__(self, req):
        with self.lock:
            if self.first is None:
                self.first = time.monotonic()
            up = time.monotonic() - self.first >= self.after
        if not up:
            return Response(503, {"Content-Type": "application/json"}, b'{"status": "starting"}')
        return Response(200, {"Content-Type": "application/json", "X-App-Version": self.version}, HEALTHY)


def healthy(version="2.0.0", delay=0.0):
    return lambda req: Response(200, {"Content-Type": "application/json", "X-App-Version": version}, HEALTHY, delay)


def test_becomes_ready_after_a_delay_check_real_again(module_runner):
    with serve(Becomes(after=1.0)) as srv:
        args = {
            "url": srv.url + "/health",
            "timeout": 20,
            "interval": 0.2,
            "successes": 2,
            "json": {"status": "ok", "checks.db": "up"},
            "expect_header": {"X-App-Version": "2.0.0"},
        }
        checked = module_runner("readiness_probe", args, check=True)
        assert not checked["failed"] and checked["ready"] and not checked["changed"]
        first = checked["results"][0]
        assert first["ready"] and first["time_to_ready"] >= 1.0
        assert first["failures"] >= 3, first
        assert first["consecutive_successes"] == 2
        assert first["attempts"][0]["status"] == 503
        assert "status 503 not in [200]" in first["attempts"][0]["reason"]
        assert first["attempts"][-1]["ok"] is True
        # The server really saw every attempt.
        assert len(srv.requests) == first["attempt_count"]
        assert {r.path for r in srv.requests} == {"/health"}

        seen = len(srv.requests)
        real = module_runner("readiness_probe", args)
        assert not real["failed"] and real["ready"] and not real["changed"]
        assert real["results"][0]["attempt_count"] == 2
        again = module_runner("readiness_probe", args)
        assert not again["failed"] and not again["changed"]
        assert len(srv.requests) == seen + 4


def test_never_ready_fails_clearly_within_the_deadline(module_runner):
    with serve(lambda req: Response(503, {}, b"warming up the cache")) as srv:
        url = srv.url + "/ready"
        started = time.monotonic()
        result = module_runner("readiness_probe", {"url": url, "timeout": 2, "interval": 0.25, "request_timeout": 1})
        wall = time.monotonic() - started
        assert result["failed"] and result["ready"] is False
        assert result["msg"].startswith("readiness_probe: 1 of 1 URL(s) not ready within 2s: " + url)
        assert "last failure: status 503 not in [200]; response body: 'warming up the cache'" in result["msg"]
        assert 2.0 <= result["elapsed"] <= 2.6
        assert wall < 2 + 15  # ansible start-up plus the deadline, generously
        assert len(srv.requests) == result["results"][0]["attempt_count"] >= 5


def test_hanging_server_is_cut_at_the_deadline(module_runner):
    with serve(healthy(delay=5)) as srv:
        result = module_runner("readiness_probe", {"url": srv.url, "timeout": 1.5, "request_timeout": 10})
        assert result["failed"]
        assert "timed out: no answer within 1.5s" in result["msg"]
        assert result["elapsed"] < 2.0


class TricklingServer:
    """Sends the status line at once, then the body one byte every 0.1 s: each read is quick, the answer never ends."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.threads = [threading.Thread(target=self._accept, daemon=True)]

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._trickle, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _trickle(self, conn) -> None:
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            while not self.stop.wait(0.1):
                conn.sendall(b"x")
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self):
        self.threads[0].start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in list(self.threads):
            thread.join(5)
        self.sock.close()


def test_trickling_answer_is_cut_at_the_deadline(module_runner):
    with TricklingServer() as srv:
        url = "http://127.0.0.1:%d/health" % srv.port
        result = module_runner("readiness_probe", {"url": url, "timeout": 1.5, "request_timeout": 30})
        assert result["failed"]
        assert "request failed: timed out: no answer within 1.5s" in result["msg"]
        assert result["elapsed"] < 2.0
        assert srv.connections == 1


def test_flapping_needs_consecutive_successes(module_runner):
    count = {"n": 0}
    lock = threading.Lock()

    def flapping(req):
        with lock:
            count["n"] += 1
            n = count["n"]
        # ok, ok, fail, ok, ok, fail, ...: never three in a row
        return Response(500 if n % 3 == 0 else 200, {}, b"flap %d" % n)

    with serve(flapping) as srv:
        args = {"url": srv.url, "timeout": 2, "interval": 0.05, "successes": 3}
        result = module_runner("readiness_probe", args)
        assert result["failed"]
        entry = result["results"][0]
        assert entry["successes"] >= 4 and entry["failures"] >= 2
        assert "consecutive successes" in result["msg"] and "status 500 not in [200]" in result["msg"]
        assert "flap" in result["msg"]
        count["n"] = 0
        two = module_runner("readiness_probe", dict(args, successes=2))
        assert not two["failed"] and two["results"][0]["attempt_count"] == 2


def test_wrong_version_header(module_runner):
    with serve(healthy(version="1.9.0")) as srv:
        result = module_runner(
            "readiness_probe",
            {"url": srv.url, "timeout": 1, "interval": 0.2, "expect_header": {"X-App-Version": "2.0.0"}},
        )
        assert result["failed"]
        assert "header X-App-Version is '1.9.0', expected '2.0.0'" in result["msg"]
        regex = module_runner(
            "readiness_probe", {"url": srv.url, "timeout": 1, "expect_header": {"X-App-Version": {"regex": r"^1\.9\."}}}
        )
        assert not regex["failed"] and regex["ready"]


def test_json_and_body_assertions(module_runner):
    with serve(healthy()) as srv:
        missing = module_runner(
            "readiness_probe", {"url": srv.url, "timeout": 0.5, "json": {"checks.cache": "up", "status": "ok"}}
        )
        assert missing["failed"]
        assert "JSON path 'checks.cache' not found in the response" in missing["msg"]
        body = module_runner("readiness_probe", {"url": srv.url, "timeout": 0.5, "body_regex": "maintenance"})
        assert body["failed"] and "body does not match /maintenance/" in body["msg"]
        good = module_runner(
            "readiness_probe", {"url": srv.url, "timeout": 1, "body_regex": '"db": "up"', "json": {"checks.db": "up"}}
        )
        assert not good["failed"]


def test_tls_verify_failure_then_ca_path(module_runner, tls):
    with serve(healthy(), tls=tls) as srv:
        assert srv.url.startswith("https://")
        untrusted = module_runner("readiness_probe", {"url": srv.url + "/health", "timeout": 0.5})
        assert untrusted["failed"]
        assert "TLS certificate verification failed" in untrusted["msg"]
        assert len(srv.requests) == 0  # no HTTP request got through the handshake
        trusted = module_runner(
            "readiness_probe", {"url": srv.url + "/health", "timeout": 2, "ca_path": str(tls.ca_cert)}
        )
        assert not trusted["failed"] and trusted["ready"]
        unverified = module_runner("readiness_probe", {"url": srv.url, "timeout": 2, "validate_certs": False})
        assert not unverified["failed"]
        assert len(srv.requests) == 2


def test_client_certificate_required(module_runner, tls):
    with serve(healthy(), tls=tls, require_client_cert=True) as srv:
        base = {"url": srv.url, "timeout": 1, "interval": 0.2, "ca_path": str(tls.ca_cert)}
        without = module_runner("readiness_probe", base)
        assert without["failed"] and without["results"][0]["attempts"][0]["error"]
        assert len(srv.requests) == 0
        with_cert = module_runner(
            "readiness_probe", dict(base, client_cert=str(tls.client_cert), client_key=str(tls.client_key))
        )
        assert not with_cert["failed"] and with_cert["ready"]
        assert len(srv.requests) == 1


def test_connection_refused(module_runner, closed_port):
    url = "http://127.0.0.1:%d/health" % closed_port
    result = module_runner("readiness_probe", {"url": url, "timeout": 1, "interval": 0.2})
    assert result["failed"]
    assert url + ": 0 of 1 consecutive successes" in result["msg"]
    assert "last failure: request failed: connection refused" in result["msg"]
    assert result["results"][0]["attempts"][0]["error"] == "connection refused"


def test_tcp_probe(module_runner, closed_port):
    with serve(healthy()) as srv:
        open_url = "tcp://127.0.0.1:%d" % srv.port
        result = module_runner("readiness_probe", {"url": open_url, "timeout": 2, "successes": 2, "interval": 0.1})
        assert not result["failed"] and result["ready"]
        assert result["results"][0]["attempts"][0]["method"] == "TCP"
        assert result["results"][0]["attempts"][0]["status"] is None
    closed = module_runner("readiness_probe", {"url": "tcp://127.0.0.1:%d" % closed_port, "timeout": 0.5})
    assert closed["failed"] and "connection refused" in closed["msg"]


def test_slow_answers_beyond_max_latency(module_runner):
    with serve(healthy(delay=0.3)) as srv:
        slow = module_runner("readiness_probe", {"url": srv.url, "timeout": 1.5, "max_latency_ms": 100})
        assert slow["failed"]
        assert "above max_latency_ms 100" in slow["msg"]
        assert slow["results"][0]["attempts"][0]["latency_ms"] >= 300
        relaxed = module_runner("readiness_probe", {"url": srv.url, "timeout": 3, "max_latency_ms": 2000})
        assert not relaxed["failed"]


def test_several_urls_at_once(module_runner):
    with serve(Becomes(after=1.0)) as slow, serve(healthy()) as fast, serve(Becomes(after=0.5)) as medium:
        urls = [slow.url + "/a", fast.url + "/b", medium.url + "/c"]
        result = module_runner("readiness_probe", {"urls": urls, "timeout": 20, "interval": 0.1, "successes": 2})
        assert not result["failed"] and result["ready"]
        assert [r["url"] for r in result["results"]] == urls
        assert all(r["ready"] for r in result["results"])
        # Concurrent: the fast one is ready long before the slow one, and the total is not the sum.
        times = [r["time_to_ready"] for r in result["results"]]
        assert times[1] < times[0] and times[0] >= 1.0
        assert result["elapsed"] < times[0] + times[1] + times[2]
        for srv in (slow, fast, medium):
            assert srv.requests


def test_several_urls_names_only_the_failing_one(module_runner, closed_port):
    with serve(healthy()) as srv:
        bad = "http://127.0.0.1:%d/" % closed_port
        result = module_runner("readiness_probe", {"urls": [srv.url, bad], "timeout": 1, "interval": 0.2})
        assert result["failed"]
        assert "1 of 2 URL(s) not ready" in result["msg"] and bad in result["msg"]
        assert srv.url + ":" not in result["msg"]
        assert [r["ready"] for r in result["results"]] == [True, False]


def test_auth_headers_are_sent_but_not_logged(module_runner):
    with serve(healthy()) as srv:
        result = module_runner(
            "readiness_probe", {"url": srv.url, "timeout": 2, "headers": {"Authorization": "Bearer s3cr3t-token"}}
        )
        assert not result["failed"]
        assert srv.requests[0].headers["Authorization"] == "Bearer s3cr3t-token"
        assert "s3cr3t-token" not in json.dumps(result)


def test_bad_input_fails_before_any_request(module_runner):
    with serve(healthy()) as srv:
        cases = [
            ({"url": srv.url, "timeout": -1}, "timeout=-1.0: give more than 0 seconds, at most 2592000"),
            ({"url": srv.url, "request_timeout": 0}, "request_timeout=0.0: give more than 0 seconds"),
            ({"url": srv.url, "interval": -0.5}, "interval=-0.5: give more than 0 seconds"),
            ({"url": srv.url, "successes": 0}, "successes=0: give a whole number of 1 or more, at most 100"),
            ({"url": "htp:/app/health"}, "url: URL 'htp:/app/health' must start with http:// or https:// or tcp://"),
            ({"urls": [srv.url, "http://"]}, "urls: URL 'http://' has no host name"),
            ({"url": "tcp://127.0.0.1"}, "url: URL 'tcp://127.0.0.1' needs a port"),
            ({"url": srv.url, "body_regex": "ok("}, "body_regex: invalid regular expression 'ok('"),
            ({"url": srv.url, "json": {"checks..db": "up"}}, "json: JSON path 'checks..db' has an empty segment"),
            ({"url": srv.url, "expect_header": {"X-App-Version": {"regex": "[2"}}}, "invalid regular expression '[2'"),
            ({"url": srv.url, "status_codes": [200, 999]}, "status_codes: status code 999 is outside 100-599"),
            ({"url": srv.url, "ca_path": "/nonexistent/ca.pem"}, "ca_path: file '/nonexistent/ca.pem' does not exist"),
            ({"url": srv.url, "method": "HEAD", "json": {"a": 1}}, "method: a HEAD answer has no body"),
            ({"url": "tcp://127.0.0.1:%d" % srv.port, "json": {"a": 1}}, "json: only applies to http(s):// URLs"),
            ({"url": srv.url, "urls": [srv.url]}, "mutually exclusive: url|urls"),
            ({"timeout": 5}, "one of the following is required: url, urls"),
        ]
        for args, fragment in cases:
            result = module_runner("readiness_probe", args)
            assert result["failed"], args
            assert fragment in result["msg"], (fragment, result["msg"])
        assert srv.requests == []


def test_a_redirect_to_another_origin_carries_none_of_the_users_headers(module_runner):
    """A readiness URL that redirects elsewhere is probed there without the user's (secret) headers."""
    with serve(healthy()) as other:
        with serve(lambda req: Response(301, {"Location": other.url + "/health"})) as srv:
            result = module_runner(
                "readiness_probe",
                {
                    "url": srv.url + "/old",
                    "timeout": 5,
                    "follow_redirects": True,
                    "headers": {"X-Api-Key": "key-s3cr3t", "Authorization": "Bearer s3cr3t-token"},
                },
            )
            assert not result["failed"], result
            assert srv.requests[0].headers["X-Api-Key"] == "key-s3cr3t"
            assert other.requests and all(
                "X-Api-Key" not in r.headers and "Authorization" not in r.headers for r in other.requests
            ), [r.headers for r in other.requests]
            assert "s3cr3t" not in json.dumps(result)
