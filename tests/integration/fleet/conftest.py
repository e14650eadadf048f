"""Fixtures for the test-fleet harness tests: the sample app as a local process, a scratch database."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest
from zerodown_testkit.fleet import releases


class AppProcess:
    def __init__(self, proc: subprocess.Popen, port: int, release_dir: Path) -> None:
        self.proc = proc
        self.port = port
        self.release_dir = release_dir

    @property
    def base(self) -> str:
        return "http://127.0.0.1:%d" % self.port


# gunicorn is Debian's python3-gunicorn (as on the fleet's app hosts), importable by the system Python only
SERVER_PYTHON = {"stdlib": sys.executable, "gunicorn": "/usr/bin/python3"}


@pytest.fixture(params=sorted(SERVER_PYTHON))
def server(request) -> str:
    """Each server the sample app can run under (``server`` in release.json, DEMOAPP_SERVER)."""
    return request.param


@pytest.fixture
def start_app(tmp_path):
    """start_app(release, server=..., **env) -> AppProcess: unpack a release tarball and run its app on an
    ephemeral port, under ``server`` (stdlib unless given); ``use_bin_start`` runs the release's own
    bin/start, with the server its release.json names."""
    started = []

    def start(name: str, use_bin_start: bool = False, server: str = "stdlib", **env: str) -> AppProcess:
        rel = releases.build(name, str(tmp_path / "releases"))
        target = tmp_path / ("%s-%d" % (name, len(started)))
        target.mkdir()
        with tarfile.open(rel.path) as tar:
            tar.extractall(target, filter="data")
        full_env = dict(os.environ, DEMOAPP_PORT="0", DEMOAPP_READY_DELAY="0")
        if not use_bin_start:
            full_env["DEMOAPP_SERVER"] = server
        full_env.update({"DEMOAPP_" + k.upper(): str(v) for k, v in env.items()})
        cmd = [str(target / "bin/start")] if use_bin_start else [SERVER_PYTHON[server], str(target / "app/demoapp.py")]
        proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started.append(proc)
        line = proc.stdout.readline()
        match = re.search(r"listening on :(\d+)", line)
        if not match:
            proc.kill()
            raise AssertionError("demoapp did not start: %r %s" % (line, proc.stdout.read()))
        return AppProcess(proc, int(match.group(1)), target)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()


@pytest.fixture
def scratch_db():
    """A unique PostgreSQL database on 127.0.0.1:5432, dropped afterwards; yields its connection settings."""
    import psycopg

    name = "zd_fleet_%s" % uuid.uuid4().hex[:10]
    admin = dict(host="127.0.0.1", port=5432, user="postgres", password="postgres", dbname="postgres")
    try:
        conn = psycopg.connect(autocommit=True, connect_timeout=5, **admin)
    except psycopg.OperationalError as exc:
        pytest.fail("PostgreSQL on 127.0.0.1:5432 is needed (run scripts/ensure-host.sh): %s" % exc)
    conn.execute("CREATE DATABASE %s" % name)
    try:
        yield dict(admin, dbname=name)
    finally:
        conn.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
        conn.close()
