"""The fleet harness itself, on real systemd-nspawn machines (root; the first run builds the rootfs).

* the load generator, pointed at a fleet where one app host stops WITHOUT
  draining, reports failed requests: with ``retries 0`` and no redispatch,
  HAProxy cannot hide them, so a deploy that shows none really had none;
* nginx on lb1 (beside HAProxy, on its own port) serves every app host
  through the upstream whose servers file the zerodown modules own, and with
  ``proxy_next_upstream off`` the load generator sees the same failures
  through it;
* ``fleet up`` twice is safe: the second run leaves the running machines alone;
* ``fleet down`` after a killed ``fleet up`` leaves no machine, mount, bridge,
  cgroup or process behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
from zerodown_testkit.fleet import core
from zerodown_testkit.support.loadgen import LoadGenerator

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import wait_until

pytestmark = pytest.mark.fleet


def fleet_cli(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "zerodown_testkit.fleet", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError("fleet %s failed (rc=%d):\n%s\n%s" % (args, proc.returncode, proc.stdout, proc.stderr))
    return proc


def unique_name(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def fleet():
    if os.geteuid() != 0:
        pytest.fail("the test fleet needs root (systemd-nspawn, mounts, a bridge)")
    name = unique_name("it")
    try:
        fleet_cli("up", "--name", name, "--app-hosts", "2", "--bootstrap", "v1")
        spec = core.load_spec(name)
        yield spec
    finally:
        fleet_cli("down", "--name", name, check=False)
        left = core.leftovers(name)
        assert left == [], "fleet down left things behind: %s" % left


def test_loadgen_sees_failures_when_a_host_stops_without_draining(fleet):
    facts = fleet.facts()
    url, admin = facts["fleet_lb_url"], facts["fleet_haproxy_admin"]
    baseline = LoadGenerator(url, concurrency=4, duration=2, haproxy=admin, haproxy_backend="app").run()
    assert baseline.requests > 0 and baseline.failed == 0, baseline.summary()
    assert set(baseline.versions) == {"v1"}

    try:
        with LoadGenerator(url, concurrency=4, duration=6, haproxy=admin, haproxy_backend="app") as load:
            wait_until(lambda: load.requests_so_far > 50, timeout=10, interval=0.05)
            # no drain: HAProxy keeps sending app1 traffic until its health check notices
            core.ssh(fleet, "app1", "systemctl stop demoapp")
            wait_until(lambda: load.elapsed > 4, timeout=10, interval=0.1)
        report = load.report
    finally:
        core.ssh(fleet, "app1", "systemctl start demoapp")
    assert report.failed > 0, "the load generator saw no failure: %s" % report.summary()
    assert report.succeeded > 0
    reasons = {f["reason"] for f in report.failures}
    assert reasons <= {"status", "connect", "timeout", "error"}
    # HAProxy neither retried nor redispatched: the failures are the real ones
    assert report.haproxy_delta_totals["wretr"] == 0 and report.haproxy_delta_totals["wredis"] == 0
    app1 = report.haproxy_delta[admin]["app/app1"]
    assert app1["econ"] + app1["eresp"] > 0, report.haproxy_delta
    assert not report.ok


def _ready_direct(fleet, host: str) -> bool:
    import http.client

    conn = http.client.HTTPConnection(fleet.host(host).ip, core.APP_PORT, timeout=2)
    try:
        conn.request("GET", "/health/ready")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def test_nginx_serves_every_app_host_through_the_upstream(fleet):
    facts = fleet.facts()
    for host in ("app1", "app2"):  # the previous test restarted app1
        wait_until(lambda host=host: _ready_direct(fleet, host), timeout=30, interval=0.2)
    servers = core.ssh(fleet, "lb1", "cat %s" % facts["fleet_nginx_servers_file"]).stdout
    assert servers == core.nginx_servers(fleet)
    assert "%s:%d" % (fleet.host("app2").ip, core.APP_PORT) in servers
    report = LoadGenerator(facts["fleet_nginx_url"], concurrency=4, duration=2).run()
    assert report.requests > 0 and report.failed == 0, report.summary()
    assert set(report.versions) == {"v1"}
    assert not report.haproxy_read and report.haproxy_delta_totals == {}  # no HAProxy counters claimed
    hosts = set()
    for _attempt in range(6):
        with urllib.request.urlopen(facts["fleet_nginx_url"], timeout=5) as resp:  # noqa: S310 - the fleet's nginx
            hosts.add(json.loads(resp.read())["host"])
    assert hosts == {"app1", "app2"}


def test_loadgen_sees_failures_through_nginx_when_a_host_stops_without_draining(fleet):
    url = fleet.facts()["fleet_nginx_url"]
    try:
        with LoadGenerator(url, concurrency=4, duration=5) as load:
            wait_until(lambda: load.requests_so_far > 50, timeout=10, interval=0.05)
            # not marked down in the servers file: nginx keeps choosing app1, and proxy_next_upstream off
            # makes each such request a failure instead of a retry on app2
            core.ssh(fleet, "app1", "systemctl stop demoapp")
            wait_until(lambda: load.elapsed > 4, timeout=10, interval=0.1)
        report = load.report
    finally:
        core.ssh(fleet, "app1", "systemctl start demoapp")
        wait_until(lambda: _ready_direct(fleet, "app1"), timeout=30, interval=0.2)
    assert report.failed > 0, "the load generator saw no failure through nginx: %s" % report.summary()
    assert report.succeeded > 0
    assert {f["status"] for f in report.failures if f["reason"] == "status"} <= {502, 503, 504}
    assert not report.ok


def test_up_again_leaves_running_machines_alone(fleet):
    before = {
        h.name: core.ssh(fleet, h.name, "cat /etc/machine-id; cut -d' ' -f22 /proc/1/stat").stdout for h in fleet.hosts
    }
    proc = fleet_cli("up", "--name", fleet.name)
    assert "booting" not in proc.stdout, proc.stdout
    after = {
        h.name: core.ssh(fleet, h.name, "cat /etc/machine-id; cut -d' ' -f22 /proc/1/stat").stdout for h in fleet.hosts
    }
    assert before == after  # same machine-ids, same PID 1 start times: nothing rebooted
    status = core.status(fleet.name)
    assert status["status"] == "up" and all(h["running"] and h["ssh"] for h in status["hosts"].values())


def test_up_with_other_parameters_is_refused(fleet):
    proc = fleet_cli("up", "--name", fleet.name, "--app-hosts", "3", check=False)
    assert proc.returncode == 1
    assert "already exists with 2 full app hosts" in proc.stderr and "fleet down" in proc.stderr


@pytest.mark.parametrize("kill_when", ["while preparing", "while booting", "while building the rootfs"])
def test_down_after_a_killed_up_leaves_nothing(kill_when, tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the test fleet needs root (systemd-nspawn, mounts, a bridge)")
    name = unique_name("k")
    env = dict(os.environ)
    cache = tmp_path / "cache"
    if kill_when == "while building the rootfs":
        env["ZERODOWN_FLEET_CACHE"] = str(cache)  # an empty cache: up starts debootstrap
    proc = subprocess.Popen(
        [sys.executable, "-m", "zerodown_testkit.fleet", "up", "--name", name, "--app-hosts", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        if kill_when == "while preparing":
            state_file = core.FleetSpec(name=name, app_hosts=2).state / "fleet.json"
            wait_until(state_file.exists, timeout=60, interval=0.02)
        else:
            expect = "booting" if kill_when == "while booting" else "building the fleet rootfs"
            line = ""
            deadline = time.monotonic() + 600  # a first run builds the rootfs
            while expect not in line and time.monotonic() < deadline:
                line = proc.stdout.readline()
                assert line or proc.poll() is None, "fleet up ended before %r" % expect
            time.sleep(0.5 if kill_when == "while booting" else 5)  # half-way through
        assert proc.poll() is None, "fleet up finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert core.leftovers(name), "nothing to clean up: the kill came too late or too early to test anything"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        down = subprocess.run(
            [sys.executable, "-m", "zerodown_testkit.fleet", "down", "--name", name],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert down.returncode == 0, down.stderr
    assert core.leftovers(name) == []
    assert not os.path.exists("/sys/class/net/zdf-" + name)
    assert fleet_cli("leftovers", "--name", name, check=False).returncode == 0
    if kill_when == "while building the rootfs":
        assert not list(cache.glob(".build-*")), "half-built rootfs left in %s" % cache
        with open("/proc/self/mountinfo") as handle:
            assert str(cache) not in handle.read()
