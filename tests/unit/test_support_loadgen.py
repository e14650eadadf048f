from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from zerodown_testkit.support.http_server import Response, serve
from zerodown_testkit.support.loadgen import LoadGenerator, percentile


def test_percentile_nearest_rank():
    values = [float(x) for x in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([], 50) == 0.0
    assert percentile([7.0], 99) == 7.0


def test_counts_requests_versions_and_failures():
    calls = {"n": 0}
    lock = threading.Lock()

    def handler(req):
        with lock:
            calls["n"] += 1
            n = calls["n"]
        if n % 10 == 0:
            return Response(503, {"X-App-Version": "1"}, b"no")
        return Response(200, {"X-App-Version": "2" if n > 20 else "1"}, b"ok")

    with serve(handler) as srv:
        report = LoadGenerator(srv.url + "/x", concurrency=2, max_requests=40, duration=20).run()
    assert report.requests == 40
    assert report.failed == 4
    assert all(f["reason"] == "status" and f["status"] == 503 for f in report.failures)
    assert report.succeeded == 36
    assert sum(report.versions.values()) == 36 and set(report.versions) == {"1", "2"}
    assert sum(sum(b["versions"].values()) for b in report.version_timeline) == 36
    assert report.status_counts == {"200": 36, "503": 4}
    assert not report.ok
    assert report.latency_ms["p50"] <= report.latency_ms["p99"] <= report.latency_ms["max"]


def test_new_connection_per_request_unless_keepalive():
    with serve(lambda req: Response(200, {}, b"ok")) as srv:
        closed = LoadGenerator(srv.url, concurrency=1, max_requests=5, duration=10).run()
        kept = LoadGenerator(srv.url, concurrency=1, max_requests=5, duration=10, keepalive=True).run()
        headers = [r.headers.get("Connection") for r in srv.requests]
    assert closed.failed == 0 and kept.failed == 0
    assert headers[:5] == ["close"] * 5
    assert "close" not in headers[5:]


def test_timeouts_and_connection_errors_are_failures():
    with serve(lambda req: Response(200, {}, b"slow", delay=1.0)) as srv:
        report = LoadGenerator(srv.url, concurrency=1, max_requests=1, duration=10, timeout=0.2).run()
    assert report.failed == 1 and report.failures[0]["reason"] == "timeout"
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    report = LoadGenerator("http://127.0.0.1:%d/" % port, concurrency=1, max_requests=3, duration=10).run()
    assert report.failed == 3 and {f["reason"] for f in report.failures} == {"connect"}


def test_stops_by_itself_at_duration_and_on_stop():
    with serve(lambda req: Response(200, {}, b"ok")) as srv:
        report = LoadGenerator(srv.url, concurrency=2, duration=0.3, pause=0.01).run()
        assert 0.2 <= report.duration < 3
        load = LoadGenerator(srv.url, concurrency=2, max_duration=30, pause=0.01).start()
        threading.Event().wait(0.2)
        report = load.stop()
    assert report.requests > 0 and report.failed == 0 and report.ok


def test_rejects_bad_urls():
    with pytest.raises(ValueError):
        LoadGenerator("ftp://x/")
    with pytest.raises(ValueError):
        LoadGenerator("http://127.0.0.1:1/", concurrency=0)
    with pytest.raises(ValueError):
        LoadGenerator("http://127.0.0.1:1/").run()


def test_cli_prints_json_report():
    with serve(lambda req: Response(200, {"X-App-Version": "9"}, b"ok")) as srv:
        proc = subprocess.run(
            [sys.executable, "-m", "zerodown_testkit.support.loadgen", srv.url, "-c", "2", "-d", "0.3"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["failed"] == 0 and report["ok"] is True and set(report["versions"]) == {"9"}


def test_https_with_ca_and_verification(tmp_path):
    from zerodown_testkit.support.http_server import make_tls

    tls = make_tls(tmp_path)
    with serve(lambda req: Response(200, {"X-App-Version": "tls"}, b"ok"), tls=tls) as srv:
        url = "https://localhost:%d/" % srv.port
        good = LoadGenerator(url, concurrency=1, max_requests=3, duration=10, cafile=str(tls.ca_cert)).run()
        unverified = LoadGenerator(url, concurrency=1, max_requests=2, duration=10).run()
    assert good.failed == 0 and good.versions == {"tls": 3}
    # TLS verification is on by default: an unknown CA is a failed request.
    assert unverified.failed == 2 and {f["reason"] for f in unverified.failures} == {"error"}


def test_haproxy_errors_are_reported_not_raised(tmp_path):
    with serve(lambda req: Response(200, {}, b"ok")) as srv:
        report = LoadGenerator(
            srv.url, concurrency=1, max_requests=2, duration=10, haproxy=str(tmp_path / "none.sock")
        ).run()
    assert report.failed == 0
    assert report.haproxy_errors and "cannot reach" in report.haproxy_errors[0]
    assert not report.ok


def test_without_haproxy_the_report_claims_no_counters():
    # nginx (or a bare app) in front: zero failed requests is the whole proof, and the report says so
    with serve(lambda req: Response(200, {}, b"ok")) as srv:
        report = LoadGenerator(srv.url, concurrency=1, max_requests=3, duration=10).run()
    assert report.ok and report.failed == 0
    assert report.haproxy_read is False
    assert report.haproxy_delta_totals == {} and report.haproxy_delta == {} and report.haproxy_errors == []
    assert "no HAProxy counters read" in report.summary() and "haproxy deltas" not in report.summary()
    assert report.to_dict()["haproxy_read"] is False


def _fake_haproxy(path, rows):
    """A unix socket answering every runtime API command with ``show stat`` CSV of ``rows``."""
    import socket

    fields = ["pxname", "svname", "scur", "wretr", "wredis", "hrsp_5xx", "econ", "eresp", "stot"]
    text = "# " + ",".join(fields) + "\n" + "".join(",".join(str(r.get(f, 0)) for f in fields) + "\n" for r in rows)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)

    def loop():
        while True:
            try:
                conn, _peer = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(text.encode() + b"\n")

    threading.Thread(target=loop, daemon=True).start()
    return server


def test_haproxy_counters_read_are_said_so_and_an_empty_backend_is_an_error(tmp_path):
    sock = _fake_haproxy(
        tmp_path / "admin.sock", [{"pxname": "app", "svname": "web1"}, {"pxname": "app", "svname": "BACKEND"}]
    )
    try:
        with serve(lambda req: Response(200, {}, b"ok")) as srv:
            read = LoadGenerator(
                srv.url,
                concurrency=1,
                max_requests=2,
                duration=10,
                haproxy=str(tmp_path / "admin.sock"),
                haproxy_backend="app",
            ).run()
            wrong = LoadGenerator(
                srv.url,
                concurrency=1,
                max_requests=2,
                duration=10,
                haproxy=str(tmp_path / "admin.sock"),
                haproxy_backend="other",
            ).run()
    finally:
        sock.close()
    assert read.ok and read.haproxy_read and read.haproxy_delta_totals["wretr"] == 0
    assert "haproxy deltas" in read.summary()
    # a backend with no servers has no counters to compare: not a silent "zero retries"
    assert wrong.failed == 0 and not wrong.haproxy_read and not wrong.ok
    assert wrong.haproxy_errors and "no servers in backend other" in wrong.haproxy_errors[0]
    assert "HAProxy counters NOT read" in wrong.summary()
