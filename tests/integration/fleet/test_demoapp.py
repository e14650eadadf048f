"""The sample app and its release tarballs, run as real local processes (no fleet needed)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time

import psycopg
import pytest
from zerodown_testkit.fleet import releases

from ansible_collections.zerodown.deploy.plugins.module_utils._migrations import discover
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import wait_until


def get(app, path: str, timeout: float = 10.0):
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read().decode()
        return resp.status, resp.getheader("X-App-Version"), body
    finally:
        conn.close()


def apply_migrations(db: dict, release: str) -> None:
    with psycopg.connect(**db) as conn:
        conn.execute(releases.migrations_sql(release))


def test_every_response_carries_the_version(start_app, server):
    app = start_app("v1", server=server)
    for path, status in (("/", 200), ("/version", 200), ("/smoke", 200), ("/health/ready", 200), ("/nope", 404)):
        got, version, body = get(app, path)
        assert (got, version) == (status, "v1"), (path, body)
    assert json.loads(get(app, "/")[2])["message"] == "hello"
    assert json.loads(get(app, "/version")[2]) == {"version": "v1"}


def test_bin_start_runs_the_release_it_lives_in(start_app):
    app = start_app("v2", use_bin_start=True)
    assert get(app, "/version")[:2] == (200, "v2")


def test_ready_only_after_the_start_up_delay(start_app, server):
    started = time.monotonic()
    app = start_app("v1", server=server, ready_delay="1.0")
    status, _version, body = get(app, "/health/ready")
    assert status == 503 and json.loads(body)["status"] == "starting"
    assert get(app, "/")[0] == 200  # serving, just not ready yet
    wait_until(lambda: get(app, "/health/ready")[0] == 200, timeout=10, interval=0.05, description="ready")
    assert time.monotonic() - started >= 1.0


def test_sigterm_finishes_in_flight_requests_then_exits(start_app, server):
    app = start_app("v1", server=server)
    result = {}

    def slow():
        result["answer"] = get(app, "/slow?seconds=2")

    client = threading.Thread(target=slow)
    client.start()
    wait_until(lambda: app.proc.poll() is None, timeout=1, interval=0.05)
    time.sleep(0.3)  # the slow request is in flight
    app.proc.send_signal(signal.SIGTERM)

    def refused() -> bool:
        try:
            socket.create_connection(("127.0.0.1", app.port), timeout=0.5).close()
            return False
        except OSError:
            return True

    wait_until(refused, timeout=5, interval=0.05, description="listener closed after SIGTERM")
    assert app.proc.poll() is None, "exited before the in-flight request was answered"
    client.join(10)
    status, version, body = result["answer"]
    assert (status, version) == (200, "v1") and json.loads(body)["slept"] == 2.0
    assert app.proc.wait(timeout=10) == 0
    output = app.proc.stdout.read()
    assert "stopping" in output and "stopped" in output


def test_gunicorn_keeps_connections_open_and_closes_them_when_stopping(start_app):
    app = start_app("v1", server="gunicorn")
    kept = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
    idle = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
    try:
        for conn in (kept, idle):
            conn.request("GET", "/")
            conn.getresponse().read()
        first = kept.sock
        for _request in range(5):
            kept.request("GET", "/version")
            resp = kept.getresponse()
            assert (resp.status, resp.read(), resp.will_close) == (200, b'{"version": "v1"}\n', False)
        assert kept.sock is first, "every request on the one connection"

        # a request in flight on a kept connection when SIGTERM arrives is answered, then the server closes
        # that connection (gunicorn decided keep-alive before the signal, so the answer does not say so)
        kept.request("GET", "/slow?seconds=1.5")
        time.sleep(0.3)
        app.proc.send_signal(signal.SIGTERM)
        resp = kept.getresponse()
        assert (resp.status, resp.getheader("X-App-Version")) == (200, "v1")
        assert json.loads(resp.read())["slept"] == 1.5
        # both kept connections are closed by the server: no request can wait on a stopped worker
        for conn in (kept, idle):
            conn.sock.settimeout(10)
            assert conn.sock.recv(1) == b""
        assert app.proc.wait(timeout=15) == 0
    finally:
        kept.close()
        idle.close()
    output = app.proc.stdout.read()
    assert "stopping" in output and "stopped" in output


def test_slow_stop_variant_keeps_serving_but_not_ready(start_app, server):
    app = start_app("v2-slow-stop", server=server, stop_delay="1.5")
    # gunicorn's master listens before its worker has booted: the signal must reach a worker that serves
    assert get(app, "/")[0] == 200
    app.proc.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    wait_until(lambda: get(app, "/health/ready")[0] == 503, timeout=5, interval=0.05)
    assert json.loads(get(app, "/health/ready")[2])["status"] == "stopping"
    assert get(app, "/")[0] == 200
    assert app.proc.wait(timeout=15) == 0
    assert time.monotonic() - stopped_at >= 1.4


def test_never_ready_variant(start_app, server):
    app = start_app("v2-never-ready", server=server, ready_delay="0.2")
    time.sleep(0.5)
    assert get(app, "/health/ready")[:2] == (503, "v2-never-ready")
    assert get(app, "/")[0] == 200


def test_smoke_fail_variant_is_ready_but_fails_the_smoke_checks(start_app, server):
    app = start_app("v2-smoke-fail", server=server)
    assert get(app, "/health/ready")[0] == 200
    assert get(app, "/smoke")[0] == 500
    assert json.loads(get(app, "/")[2])["message"] == "broken"


def test_5xx_variant_fails_exactly_its_share(start_app, server):
    app = start_app("v2-5xx", server=server)
    assert get(app, "/health/ready")[0] == 200  # health checks never fail: it passes readiness
    statuses = [get(app, "/")[0] for _request in range(20)]
    assert statuses.count(500) == 10 and statuses.count(200) == 10


def test_late_5xx_variant_is_healthy_then_fails_its_share(start_app, server):
    app = start_app("v2-late-5xx", server=server, error_after="1.0")
    assert [get(app, "/")[0] for _request in range(10)] == [200] * 10  # readiness and the smoke test pass
    time.sleep(1.2)
    statuses = [get(app, "/")[0] for _request in range(20)]
    assert statuses.count(500) == 10 and get(app, "/health/ready")[0] == 200


def run_to_exit(tmp_path, release: str, **env: str) -> subprocess.CompletedProcess:
    """Run a release's app that is expected to exit at start; its status and output."""
    rel = releases.build(release, str(tmp_path / "releases"))
    with tarfile.open(rel.path) as tar:
        tar.extractall(tmp_path / "app", filter="data")
    return subprocess.run(
        [sys.executable, str(tmp_path / "app/app/demoapp.py")],
        env=dict(os.environ, DEMOAPP_PORT="0", **env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_crash_variant_exits_at_start_with_status_3_and_says_why(tmp_path):
    proc = run_to_exit(tmp_path, "v2-crash")
    assert proc.returncode == 3 and "fatal: DEMOAPP_SECRET_KEY is not set" in proc.stderr


def test_an_unknown_server_is_refused_at_start_and_named(tmp_path):
    proc = run_to_exit(tmp_path, "v1", DEMOAPP_SERVER="twisted")
    assert proc.returncode == 2 and "server 'twisted' is not one of stdlib, gunicorn" in proc.stderr


def test_db_v1_keeps_working_after_the_additive_v2_migration(start_app, scratch_db):
    db_env = {
        "db_host": scratch_db["host"],
        "db_port": scratch_db["port"],
        "db_name": scratch_db["dbname"],
        "db_user": scratch_db["user"],
        "db_password": scratch_db["password"],
    }
    apply_migrations(scratch_db, "v1")
    v1 = start_app("v1", **db_env)
    status, _version, body = get(v1, "/db")
    assert status == 200 and json.loads(body)["visits"] == 1
    apply_migrations(scratch_db, "v2")
    apply_migrations(scratch_db, "v2")  # idempotent: the bootstrap and the migrate role may both run it
    assert get(v1, "/db")[0] == 200, "v1 must keep working against the v2 schema"
    v2 = start_app("v2", **db_env)
    status, _version, body = get(v2, "/db")
    assert status == 200 and json.loads(body)["visits"] == 3
    with psycopg.connect(**scratch_db) as conn:
        notes = conn.execute("SELECT version, note FROM visits ORDER BY id").fetchall()
    assert notes == [("v1", None), ("v1", None), ("v2", "written by v2")]


def test_db_failure_is_a_503_with_the_reason(start_app):
    app = start_app("v1", db_host="127.0.0.1", db_port="1")
    status, version, body = get(app, "/db")
    assert (status, version) == (503, "v1")
    assert "database" in json.loads(body)["error"]


@pytest.mark.parametrize("name", sorted(releases.VARIANTS))
def test_release_tarballs_are_complete_and_reproducible(tmp_path, name):
    first = releases.build(name, str(tmp_path / "a"))
    second = releases.build(name, str(tmp_path / "b"))
    assert first.sha256 == second.sha256 == hashlib.sha256(first.path.read_bytes()).hexdigest()
    assert (tmp_path / "a" / (first.filename + ".sha256")).read_text().split() == [first.sha256, first.filename]
    with tarfile.open(first.path) as tar:
        names = set(tar.getnames())
        assert {"VERSION", "release.json", "bin/start", "app/demoapp.py"} <= names
        assert tar.getmember("bin/start").mode & 0o111
        tar.extractall(tmp_path / "x", filter="data")
    assert (tmp_path / "x/VERSION").read_text().strip() == name
    migrations = [m.id for m in discover(str(tmp_path / "x/migrations"))]
    expected = ["0001_create_visits.sql"] + ([] if name == "v1" else ["0002_visits_add_note.sql"])
    assert migrations == expected
