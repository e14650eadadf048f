"""drain_backend and switch_traffic against a real nginx (servers include file + graceful reload)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from zerodown_testkit.support.lbharness import NginxInstance, SlowRequests
from zerodown_testkit.support.loadgen import LoadGenerator

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import wait_until
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.nginx import Nginx, effective_conf


def _load(nginx):
    return LoadGenerator(nginx.url + "/", concurrency=3, max_duration=120, timeout=30, pause=0.01)


def _control(nginx) -> Nginx:
    return Nginx(nginx.conf, nginx.servers_file, pid_file=nginx.pid_file, binary=nginx.binary, prefix=str(nginx.dir))


def _in_flight(backends) -> int:
    return sum(s.in_flight for s in backends.servers.values())


def test_nginx_drain_reloads_and_waits_for_old_workers(nginx, backends, module_runner):
    control = _control(nginx)
    web1 = nginx.addresses["web1"]
    args = dict(nginx.module_args, server=web1, timeout=60, poll_interval=0.1)
    original = Path(nginx.servers_file).read_text()
    with _load(nginx) as load:
        wait_until(lambda: load.requests_so_far > 20, timeout=10, interval=0.05)
        workers = control.workers()
        checked = module_runner("drain_backend", args, check=True)
        assert checked["changed"] is True and checked["current"][nginx.servers_file][web1]["state"] == "drain"
        assert Path(nginx.servers_file).read_text() == original
        assert control.workers() == workers  # no reload happened

        # Slow requests on every server, long enough to outlive Ansible's start-up of the module.
        slow = SlowRequests(nginx.url + "/slow?delay=8", 4)
        wait_until(lambda: _in_flight(backends) >= 4, timeout=10, interval=0.02)
        result = module_runner("drain_backend", args)
        returned = time.monotonic()
        results = slow.join()
        assert not result["failed"], result
        assert result["changed"] is True
        assert result["previous"] == {nginx.servers_file: {web1: {"state": "ready", "weight": 1}}}
        assert result["current"] == {nginx.servers_file: {web1: {"state": "drain", "weight": 1}}}
        assert result["sessions_at_start"] >= 4  # client connections held by the old workers
        assert "server %s down;  # zerodown: drain" % web1 in Path(nginx.servers_file).read_text()
        # The old workers are gone, so every request they held is done; all succeeded.
        assert control.alive(workers) == set()
        assert [r["status"] for r in results] == [200] * 4, results
        lag = result["drained_at"] - max(r["ended"] for r in results)
        print("nginx: drain returned %.3fs after the last in-flight request ended" % lag)
        assert -0.05 < lag < 1.0

        again = module_runner("drain_backend", args)
        assert again["changed"] is False and not again["failed"]
        target = load.requests_so_far + 30
        wait_until(lambda: load.requests_so_far > target, timeout=10, interval=0.05)
    print("load:", load.report.summary())
    assert load.report.failed == 0, load.report.failures[:5]
    # No new request reached web1 after the reload.
    assert [r.path for r in backends["web1"].requests if r.at > returned] == []
    assert set(load.report.version_timeline[-1]["versions"]) == {"web2", "web3"}


def test_nginx_config_test_failure_keeps_old_config(nginx, backends, module_runner):
    control = _control(nginx)
    web2 = nginx.addresses["web2"]
    original = Path(nginx.servers_file).read_text()
    conf = Path(nginx.conf)
    good_conf = conf.read_text()
    # An operator's broken edit of the main configuration, not yet reloaded.
    conf.write_text(good_conf.replace("http {", "http {\n    zerodown_bogus_directive on;", 1))
    workers = control.workers()
    try:
        with _load(nginx) as load:
            result = module_runner("drain_backend", dict(nginx.module_args, server=web2))
            assert result["failed"] is True
            assert "nginx -t rejected" in result["msg"] and "zerodown_bogus_directive" in result["msg"]
            assert "put back" in result["msg"]
            assert Path(nginx.servers_file).read_text() == original
            assert control.workers() == workers  # not reloaded
            assert module_runner("switch_traffic", dict(nginx.module_args, servers={web2: {"weight": 5}}))["failed"]
            assert Path(nginx.servers_file).read_text() == original
            wait_until(lambda: load.requests_so_far > 50, timeout=10, interval=0.05)
    finally:
        conf.write_text(good_conf)
    assert load.report.failed == 0
    assert {"web1", "web2", "web3"} <= set(load.report.versions)


def test_nginx_timeout_shutdown_kills_old_workers(nginx, backends, module_runner):
    control = _control(nginx)
    web3 = nginx.addresses["web3"]
    workers = control.workers()
    slow = SlowRequests(nginx.url + "/slow?delay=40", 2)
    wait_until(lambda: _in_flight(backends) >= 2, timeout=10, interval=0.02)
    result = module_runner("drain_backend", dict(nginx.module_args, server=web3, timeout=1, on_timeout="shutdown"))
    assert not result["failed"], result
    assert result["timed_out"] is True
    assert result["killed_sessions"] == 2
    assert control.alive(workers) == set()
    results = slow.join(10)
    assert len(results) == 2 and all(r["status"] is None for r in results), results
    assert result["drain_seconds"] < 15


def test_nginx_switch_weights_and_restore(nginx, module_runner):
    web1, web2 = nginx.addresses["web1"], nginx.addresses["web2"]
    control = _control(nginx)
    states_before = {s.address: (s.state, s.effective_weight) for s in control.read()}
    args = dict(nginx.module_args, servers={web1: {"weight": 5}, web2: {"state": "maint"}})
    checked = module_runner("switch_traffic", args, check=True)
    assert checked["changes"] == {nginx.servers_file: {web1: {"weight": 5}, web2: {"state": "maint"}}}
    switched = module_runner("switch_traffic", args)
    assert not switched["failed"], switched
    text = Path(nginx.servers_file).read_text()
    assert "server %s weight=5;" % web1 in text and "server %s down;  # zerodown: maint" % web2 in text
    assert module_runner("switch_traffic", args)["changed"] is False
    for bad, message in (({"weight": "50%"}, "no percentages"), ({"weight": 0}, "no weight 0")):
        failed = module_runner("switch_traffic", dict(nginx.module_args, servers={web1: bad}))
        assert failed["failed"] and message in failed["msg"], failed
    restored = module_runner("switch_traffic", dict(nginx.module_args, restore=switched["previous"]))
    assert not restored["failed"] and restored["current"] == switched["previous"]
    assert {s.address: (s.state, s.effective_weight) for s in control.read()} == states_before
    unknown = module_runner("drain_backend", dict(nginx.module_args, server="127.0.0.1:1"))
    assert unknown["failed"] and "no server '127.0.0.1:1'" in unknown["msg"]


DECOY = """
import pathlib, signal, sys, time
def hup(signum, frame):
    pathlib.Path(sys.argv[1]).write_text("SIGHUP")
signal.signal(signal.SIGHUP, hup)
pathlib.Path(sys.argv[2]).write_text("ready")
time.sleep(120)
"""


def _decoy(tmp_path, title):
    """A process that records any SIGHUP, named (argv[0]) like nginx's master when asked."""
    hup, ready = tmp_path / ("hup-%d" % len(title)), tmp_path / ("ready-%d" % len(title))
    proc = subprocess.Popen([title, "-c", DECOY, str(hup), str(ready)], executable=sys.executable)
    wait_until(ready.exists, timeout=10, interval=0.02)
    return proc, hup


def test_nginx_signals_only_a_verified_master_and_sees_the_reload(nginx, module_runner, tmp_path):
    """A pid file naming a decoy, PID 1 or a worker: refused, nothing signalled, nothing changed."""
    control = _control(nginx)
    web2 = nginx.addresses["web2"]
    original = Path(nginx.servers_file).read_text()
    workers = control.workers()
    worker_pid = sorted(workers)[0][0]
    decoys = [_decoy(tmp_path, "python3"), _decoy(tmp_path, "nginx: master process nginx")]
    pid_file = tmp_path / "other.pid"
    try:
        cases = [(str(p.pid), "runs %s" % os.path.realpath(sys.executable)) for p, _hup in decoys] + [
            ("1", "PID 1, which is never an nginx master"),
            (str(worker_pid), "an nginx process but not the master"),
            ("-1", "not a process id"),
        ]
        for content, message in cases:
            pid_file.write_text(content + "\n")
            for result in _drain_and_switch_with_pid_file(nginx, module_runner, str(pid_file)):
                assert message in result["msg"] and "nothing was signalled" in result["msg"], result["msg"]
                assert str(pid_file) in result["msg"]
        for proc, hup in decoys:
            assert proc.poll() is None and not hup.exists(), "the decoy was signalled"
        assert Path(nginx.servers_file).read_text() == original
        assert control.workers() == workers, "nginx was reloaded"
    finally:
        for proc, _hup in decoys:
            proc.kill()
            proc.wait(10)

    # the real master: the reload is seen as new workers of that same master
    master = control.master()
    drained = module_runner("drain_backend", dict(nginx.module_args, server=web2, timeout=30, poll_interval=0.1))
    assert not drained["failed"] and drained["changed"], drained
    assert control.master() == master
    new = control.workers()
    assert new and not new & workers and control.alive(workers) == set()


def _drain_and_switch_with_pid_file(nginx, module_runner, pid_file):
    """drain_backend and switch_traffic on web2 of ``nginx``, told ``pid_file``: both refused, nothing changed."""
    web2 = nginx.addresses["web2"]
    args = dict(nginx.module_args, server=web2, timeout=10)
    args["nginx"] = dict(args["nginx"], pid_file=pid_file)
    results = []
    for module, extra in (("drain_backend", {}), ("switch_traffic", {"servers": {web2: {"weight": 3}}})):
        call = dict(args, **extra)
        if module == "switch_traffic":
            call.pop("server"), call.pop("timeout")
        result = module_runner(module, call)
        assert result["failed"] and not result["changed"], result
        results.append(result)
    return results


def _second_nginx(tmp_path, backends, options):
    """Another real nginx over the same backends, started from ``tmp_path`` with ``options`` (relative paths)."""
    return NginxInstance(tmp_path / "other", backends, start=(options, tmp_path))


def test_a_second_master_started_with_relative_paths_is_never_signalled(nginx, backends, module_runner, tmp_path):
    """A pid file naming the master of another nginx, started with a relative -c and -p: refused, untouched.

    Its command line says ``-p other/ -c nginx.conf``; only its working directory tells which file that is.
    """
    other = _second_nginx(tmp_path, backends, ["-p", "other/", "-c", "nginx.conf"])
    try:
        control, other_control = _control(nginx), _control(other)
        ours, theirs = control.workers(), other_control.workers()
        original = Path(nginx.servers_file).read_text()
        for result in _drain_and_switch_with_pid_file(nginx, module_runner, other.pid_file):
            assert "master of another nginx (its configuration file is %s/other/nginx.conf" % tmp_path in result["msg"]
            assert "nothing was signalled" in result["msg"] and nginx.conf in result["msg"], result["msg"]
        assert other_control.workers() == theirs, "the other nginx was reloaded"
        assert control.workers() == ours and Path(nginx.servers_file).read_text() == original

        # the same relative start, configured as what it is: its own conf and pid file, drained for real
        drained = module_runner(
            "drain_backend", dict(other.module_args, server=other.addresses["web2"], timeout=30, poll_interval=0.1)
        )
        assert not drained["failed"] and drained["changed"], drained
        assert other_control.workers().isdisjoint(theirs)
        assert "down;  # zerodown: drain" in Path(other.servers_file).read_text()
    finally:
        other.stop()


def test_conf_resolution_matches_what_the_real_nginx_reads(nginx, tmp_path):
    """Our reading of -c/-p (and of no -c: the compiled-in path from nginx -V) names the file nginx -t names."""
    control = _control(nginx)
    (tmp_path / "rel").mkdir()
    for options in (["-c", "nginx.conf"], ["-p", "rel/"], ["-p", "rel/", "-c", "x.conf"], [], ["-c", "/etc/x.conf"]):
        run = subprocess.run(
            [nginx.binary, *options, "-t"], cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False
        )
        named = re.search(r"configuration file (\S+) (?:test failed|syntax is ok)", run.stderr)
        assert named, run.stderr
        read = os.path.join(tmp_path, named.group(1))  # nginx names it as it opened it, from its cwd
        words = [nginx.binary, *options]
        conf = dict(zip(words[1::2], words[2::2])).get("-c")
        prefix = dict(zip(words[1::2], words[2::2])).get("-p")
        assert effective_conf(conf, prefix, str(tmp_path), control._compiled) == read, (options, run.stderr)
