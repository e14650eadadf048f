"""canary_analysis: argument checks (nothing sent to a load balancer on bad input) and one step on a fake clock."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args
from zerodown_testkit.support.fake_clock import FakeClock
from zerodown_testkit.support.haproxy_counters import FakeRuntime

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import counters
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import haproxy as _haproxy
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import nginx as _nginx
from ansible_collections.zerodown.deploy.plugins.modules import canary_analysis

SOCKET = "/run/haproxy/admin.sock"


@pytest.fixture
def runtimes(monkeypatch):
    """Every HAProxyRuntime the module builds is a FakeRuntime; ``made`` lists the addresses it asked for."""
    made = {}

    def factory(address, timeout=5.0, socket_factory=None):
        made[address] = made.get(address) or FakeRuntime()
        return made[address]

    monkeypatch.setattr(_haproxy, "HAProxyRuntime", factory)
    return made


def run(args, capsys, clock=None, check=False):
    args = dict(args)
    if check:
        args["_ansible_check_mode"] = True
    with patch_module_args(args), pytest.raises(SystemExit):
        canary_analysis.main(clock=clock)
    return json.loads(capsys.readouterr().out)


def base(**extra):
    return dict({"socket": [SOCKET], "backend": "app"}, **extra)


SNAPSHOT = counters.take_snapshot({SOCKET: FakeRuntime()}, "app", now=lambda: 1000.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {
                "provider": "nginx",
                "nginx": {"conf": "/etc/nginx/nginx.conf", "servers_file": "/etc/x"},
                "backend": "app",
                "canary_servers": ["web3"],
                "pause": 5,
            },
            "set nginx.access_log to a log that nginx writes with log_format zerodown",
        ),
        (base(canary_servers=["web3"]), "give since (the snapshot returned by a state=snapshot call) or a pause"),
        (base(since=SNAPSHOT), "canary_servers is required"),
        (base(canary_servers=["web3"], since=SNAPSHOT, servers=["web1"]), "servers only applies to state=snapshot"),
        (base(state="snapshot", canary_servers=["web3"]), "canary_servers only apply to state=analyze"),
        (base(canary_servers=["web3"], baseline_servers=["web3"], pause=1), "in both canary_servers and baseline"),
        (base(canary_servers=["web3;shutdown sessions server app/web1"], pause=1), "invalid server"),
        (base(canary_servers=["web3"], pause=-1), "pause=-1.0: give 0 or more seconds"),
        (base(canary_servers=["web3"], pause=1, poll_interval=0), "poll_interval=0.0"),
        (base(canary_servers=["web3"], pause=1, min_requests=0), "min_requests=0"),
        (base(canary_servers=["web3"], pause=1, max_error_rate=2), "max_error_rate=2.0: give a fraction"),
        (base(canary_servers=["web3"], pause=1, max_latency_ratio=0.5), "max_latency_ratio=0.5"),
        (base(canary_servers=["web3"], pause=1, significance=1), "significance=1.0"),
        (base(canary_servers=["web3"], pause=1, latency_looks=0), "latency_looks=0"),
        (
            base(canary_servers=["web3"], pause=1, thresholds={"max_ratio": 2}),
            "thresholds has unknown key(s) 'max_ratio'",
        ),
        (base(canary_servers=["web3"], pause=1, thresholds={"warmup": "soon"}), "warmup="),
        (base(state="bake", before=SNAPSHOT, pause=30, thresholds={"min_requests": 0}), "min_requests=0"),
        (base(canary_servers=["web3"], since=dict(SNAPSHOT, backend="other")), "taken for backend 'other'"),
        (base(canary_servers=["web3"], since={"servers": {}}), "since must be a snapshot"),
        (base(socket=[SOCKET, "10.0.0.3:9999"], canary_servers=["web3"], since=SNAPSHOT), "same socket list"),
        (base(canary_servers=["web9"], since=SNAPSHOT), "web9 are not in the snapshot"),
        (base(backend="bad name", state="snapshot"), "invalid backend"),
        (base(state="bake", pause=30), "before is required with state=bake"),
        (base(state="bake", before=SNAPSHOT), "pause=0.0: give the bake window in seconds"),
        (base(state="bake", before=SNAPSHOT, pause=30, since=SNAPSHOT), "since do not apply to state=bake"),
        (base(state="bake", before=SNAPSHOT, pause=30, max_wait=5), "max_wait do not apply to state=bake"),
        (base(state="bake", before=SNAPSHOT, pause=30, canary_servers=["a;b"]), "invalid server"),
        (base(state="bake", before=dict(SNAPSHOT, version=9), pause=30), "since has snapshot version 9"),
        (base(canary_servers=["web3"], before=SNAPSHOT, pause=1), "before only applies to state=bake"),
        (base(state="snapshot", before=SNAPSHOT), "before only apply to state=analyze"),
        (base(state="rollout"), "entered is required with state=rollout"),
        (base(state="rollout", entered=[], since=SNAPSHOT), "since do not apply to state=rollout"),
        (base(state="rollout", entered=[], canary_servers=["web1"]), "canary_servers do not apply to state=rollout"),
        (base(state="rollout", entered=[], max_wait=5), "max_wait do not apply to state=rollout"),
        (base(state="rollout", entered=[{"servers": "web1"}]), "entered[0].servers must be a list of server names"),
        (base(state="rollout", entered=[{"servers": ["web1"]}], entering=["web1"]), "already in entered"),
        (base(state="rollout", entered=[], entering=["a;b"]), "invalid server"),
        (base(state="rollout", entered=[], pause=-1), "pause=-1.0: give 0 or more seconds"),
        (base(state="rollout", entered=[], min_requests=0), "min_requests=0"),
        (base(state="rollout", entered=[{"servers": ["web1"], "snapshot": dict(SNAPSHOT, backend="x")}]), "entered[0]"),
        (base(state="snapshot", entered=[]), "entered only apply to state=rollout"),
        (base(canary_servers=["web3"], pause=1, entering=["web1"]), "entering only apply to state=rollout"),
    ],
)
def test_bad_input_fails_naming_the_value_and_reads_nothing(args, message, runtimes, capsys):
    result = run(args, capsys)
    assert result["failed"] is True
    assert message in result["msg"], result["msg"]
    assert result["changed"] is False
    assert all(rt.reads == 0 for rt in runtimes.values())


def test_snapshot_then_analyze_with_a_pause_on_the_clock(runtimes, capsys):
    snap = run(base(state="snapshot"), capsys, check=True)
    assert snap["changed"] is False and set(snap["snapshot"]["load_balancers"][SOCKET]["servers"]) == {
        "web1",
        "web2",
        "web3",
    }
    runtime = runtimes[SOCKET]
    clock = FakeClock()

    def traffic(rt):
        if clock.now >= 30 and not rt.counters["web3"]["stot"]:
            rt.serve("web3", 400, errors=2)
            rt.serve("web1", 4000, errors=10)

    runtime.on_read = traffic
    result = run(base(canary_servers=["web3"], since=snap["snapshot"], pause=30), capsys, clock=clock, check=True)
    assert clock.sleeps == [1.0] * 30  # a look every poll_interval through the pause, no real sleeping
    assert result["changed"] is False
    assert result["verdict"] == "pass", result["reason"]
    assert result["baseline_servers"] == ["web1", "web2"]
    assert result["canary"]["requests"] == 400 and result["canary"]["errors"] == 2
    assert result["baseline"]["requests"] == 4000
    assert result["servers"]["web1"]["errors"] == 10
    assert result["tests"]["error_rate_vs_baseline"]["p_value"] > 0.01
    assert result["thresholds"]["min_requests"] == 100
    assert result["thresholds"]["min_latency_increase_ms"] == 50 and result["thresholds"]["latency_looks"] == 3
    assert result["latency"]["test"] == "means" and result["latency"]["breach"] is False
    assert result["waited_seconds"] == 30
    assert (result["looks"], result["looked"], result["stopped_early"]) == (30, 30, False)


def test_a_5xx_canary_fails_and_the_task_does_not(runtimes, capsys):
    clock = FakeClock()
    run(base(state="snapshot"), capsys)  # builds the runtime
    runtimes[SOCKET].on_read = lambda rt: (rt.serve("web3", 100, errors=10), rt.serve("web1", 900))
    result = run(base(canary_servers=["web3"], pause=10), capsys, clock=clock)
    assert "failed" not in result or result["failed"] is False
    assert result["verdict"] == "fail"
    assert "10.00 % (10 of 100)" in result["reason"]
    assert len(result["failures"]) == 2


# -- nginx: counts from its access log --------------------------------------------------------


@pytest.fixture
def nginx_files(tmp_path, monkeypatch):
    """An nginx as the module sees it: its servers file, a pid file naming a live process, its access log.

    The live process is this test's; it passes for the nginx master (canary_analysis never signals it), since
    the provider verifies that the pid file names the master of the configured nginx (tests/unit/.../test_nginx.py).
    """
    monkeypatch.setattr(_nginx.Nginx, "check_master", lambda self, pid: (pid, 0))
    servers = tmp_path / "app.servers"
    servers.write_text("server 10.0.0.11:8080;\nserver 10.0.0.12:8080;\nserver [fd00::14]:8080;\n")
    pid = tmp_path / "nginx.pid"
    pid.write_text("%d\n" % os.getpid())
    log = tmp_path / "zerodown-access.log"
    log.write_text("")
    nginx = {"conf": str(tmp_path / "nginx.conf"), "servers_file": str(servers), "pid_file": str(pid)}
    return {"provider": "nginx", "backend": "app", "nginx": dict(nginx, access_log=str(log))}, log


def _lines(log, address, count, status="200"):
    with open(log, "a") as handle:
        handle.write('"%s" "%s" "0.000" "0.003" "0.003"\n' % (address, status) * count)


def test_nginx_snapshot_then_a_failing_step_from_the_access_log(nginx_files, capsys):
    args, log = nginx_files
    _lines(log, "[fd00::14]:8080", 500, "500")  # before the step
    snap = run(dict(args, state="snapshot"), capsys, check=True)
    assert not snap.get("failed") and snap["changed"] is False, snap
    entry = snap["snapshot"]["load_balancers"][args["nginx"]["servers_file"]]
    assert snap["snapshot"]["source"] == "nginx_access_log" and entry["offset"] == os.path.getsize(log)
    assert sorted(entry["servers"]) == ["10.0.0.11:8080", "10.0.0.12:8080", "[fd00::14]:8080"]
    _lines(log, "10.0.0.11:8080", 900)
    _lines(log, "[fd00::14]:8080", 90)
    _lines(log, "[fd00::14]:8080", 10, "503")
    result = run(dict(args, canary_servers=["[fd00::14]:8080"], since=snap["snapshot"]), capsys)
    assert result["verdict"] == "fail", result
    assert result["canary"] == {
        "requests": 100,
        "errors": 10,
        "error_rate": 0.1,
        "http_5xx": 10,
        "connection_errors": 0,
        "response_errors": 0,
        "latency_ms": 3.0,
        "retries": 0,
        "redispatches": 0,
    }
    assert result["baseline_servers"] == ["10.0.0.11:8080", "10.0.0.12:8080"]
    assert result["baseline"]["requests"] == 900 and result["servers"]["10.0.0.12:8080"]["requests"] == 0
    assert result["snapshot"]["load_balancers"][args["nginx"]["servers_file"]]["offset"] == os.path.getsize(log)


def test_nginx_through_the_plans_load_balancer_value(nginx_files, capsys):
    args, log = nginx_files
    plan_lb = dict(args, servers={"app1": "10.0.0.11:8080"})
    snap = run({"load_balancer": plan_lb, "state": "snapshot"}, capsys)
    _lines(log, "10.0.0.11:8080", 3)
    result = run({"load_balancer": plan_lb, "canary_servers": ["10.0.0.11:8080"], "since": snap["snapshot"]}, capsys)
    assert result["verdict"] == "inconclusive" and result["canary"]["requests"] == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"canary_servers": ["web1; down"], "pause": 1}, "invalid nginx upstream server"),
        ({"canary_servers": ["10.0.0.99:8080"], "pause": 1}, "10.0.0.99:8080 are not in the snapshot"),
        ({"state": "snapshot", "backend": "bad name"}, "invalid upstream"),
        ({"state": "snapshot", "since": None, "servers": ["10.0.0.99:8080"]}, "has no server '10.0.0.99:8080'"),
        ({"canary_servers": ["10.0.0.11:8080"], "since": SNAPSHOT}, "since holds haproxy counters"),
    ],
)
def test_nginx_bad_input(nginx_files, change, message, capsys):
    args, _log = nginx_files
    result = run({k: v for k, v in dict(args, **change).items() if v is not None}, capsys)
    assert result["failed"] is True and message in result["msg"], result["msg"]


def test_nginx_access_log_in_another_format_or_missing(nginx_files, capsys):
    args, log = nginx_files
    log.write_text('127.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 2 "-" "curl"\n')
    result = run(dict(args, state="snapshot"), capsys)
    assert result["failed"] is True
    assert "%s, the last line (byte offset 0) is not in log_format zerodown" % log in result["msg"]
    log.unlink()
    result = run(dict(args, state="snapshot"), capsys)
    assert result["failed"] is True and "cannot read the nginx access log" in result["msg"]


# -- the bake window ------------------------------------------------------------------------------


def serving(runtime, states):
    """``servers()`` as HAProxyRuntime returns it, for the servers taking traffic by default."""
    runtime.servers = lambda backend: {
        (backend, name): {"state": state, "weight": 1 if state == "ready" else 0, "scur": 0, "qcur": 0}
        for name, state in states.items()
    }


def test_bake_watches_the_servers_taking_traffic_and_fails_when_they_go_bad(runtimes, capsys):
    before = run(base(state="snapshot"), capsys)["snapshot"]
    runtime = runtimes[SOCKET]
    serving(runtime, {"web1": "maint", "web2": "ready", "web3": "ready"})
    clock = FakeClock()
    runtime.on_read = lambda rt: (rt.serve("web2", 50), rt.serve("web3", 50, errors=25 if clock.now > 3 else 0))
    result = run(base(state="bake", before=before, pause=60, require_pass=True), capsys, clock=clock)
    assert result["failed"] is True
    assert result["msg"].startswith("bake window fail: new release error rate")
    assert result["canary_servers"] == ["web2", "web3"]
    assert result["baseline_servers"] == ["web1", "web2", "web3"]
    assert result["looks"] == 60 and result["looked"] < 10
    assert result["servers"]["web3"]["errors"] > 0


def test_bake_of_a_healthy_release_passes_after_the_window(runtimes, capsys):
    before = run(base(state="snapshot"), capsys)["snapshot"]
    runtimes[SOCKET].on_read = lambda rt: rt.serve("web1", 40)
    clock = FakeClock()
    result = run(base(state="bake", before=before, pause=20, poll_interval=5, canary_servers=["web1"]), capsys, clock)
    assert result["verdict"] == "pass", result["reason"]
    assert (result["looks"], result["looked"]) == (4, 4) and clock.now == 20


def test_bake_with_nothing_taking_traffic_says_so(runtimes, capsys):
    before = run(base(state="snapshot"), capsys)["snapshot"]
    serving(runtimes[SOCKET], {"web1": "maint", "web2": "drain", "web3": "maint"})
    result = run(base(state="bake", before=before, pause=20), capsys, FakeClock())
    assert result["failed"] is True and "nothing takes traffic to watch" in result["msg"]


# -- the deploy's tally: the failed requests since the snapshot before the deploy -------------------------


def test_tally_counts_since_before_and_records_it_in_the_ledger(runtimes, capsys, tmp_path):
    from ansible_collections.zerodown.deploy.plugins.module_utils._ledger import Ledger
    from ansible_collections.zerodown.deploy.plugins.module_utils._lock import StateDir

    before = run(base(state="snapshot"), capsys)["snapshot"]
    runtimes[SOCKET].serve("web1", 200, errors=3, retries=1)
    runtimes[SOCKET].serve("web2", 100)
    book = Ledger(StateDir(str(tmp_path), "shop"))
    book.start("run-1", "v2", {SOCKET: {}})
    record = {"app": "shop", "path": str(tmp_path), "run_id": "run-1"}
    result = run(base(state="tally", before=before, ledger=record), capsys)
    assert not result.get("failed") and result["changed"] is False, result
    assert result["measured"] is True and result["reason"] is None
    assert result["total"] == {
        "requests": 300,
        "failed": 3,
        "http_5xx": 3,
        "connection_errors": 0,
        "response_errors": 0,
        "retries": 1,
        "redispatches": 0,
    }
    assert result["servers"]["web2"]["requests"] == 100 and result["servers"]["web3"]["requests"] == 0
    (step,) = book.read()["steps"]
    assert step["name"] == "tally" and step["total"] == result["total"] and step["servers"] == result["servers"]


def test_tally_of_a_reloaded_haproxy_is_not_measured_and_does_not_fail(runtimes, capsys):
    before = run(base(state="snapshot"), capsys)["snapshot"]
    runtimes[SOCKET].pid += 1
    result = run(base(state="tally", before=before), capsys)
    assert not result.get("failed"), result
    assert result["measured"] is False and "reloaded or restarted" in result["reason"]
    assert result["total"] is None and result["servers"] == {}


def test_tally_without_before_or_with_a_ledger_it_cannot_write_does_not_fail(runtimes, capsys, tmp_path):
    result = run(base(state="tally"), capsys)
    assert not result.get("failed") and result["measured"] is False and "not read before" in result["reason"]
    before = run(base(state="snapshot"), capsys)["snapshot"]
    record = {"app": "shop", "path": str(tmp_path), "run_id": "run-1"}  # no ledger was started there
    result = run(base(state="tally", before=before, ledger=record), capsys)
    assert not result.get("failed") and result["measured"] is True, result
    assert not (tmp_path / "shop" / "ledger.json").exists()  # the wrapper hands "counted but not recorded" to warn


def test_tally_refuses_the_options_of_other_states(runtimes, capsys):
    result = run(base(state="tally", canary_servers=["web1"], pause=5), capsys)
    assert result["failed"] is True and "canary_servers, pause do not apply to state=tally" in result["msg"]


def test_tally_of_nginx_without_access_log_says_how_to_count(capsys, tmp_path):
    args = {
        "provider": "nginx",
        "nginx": {"conf": str(tmp_path / "nginx.conf"), "servers_file": str(tmp_path / "x")},
        "backend": "app",
        "state": "tally",
        "before": {},
    }
    result = run(args, capsys)
    assert not result.get("failed"), result
    assert result["measured"] is False and "set nginx.access_log" in result["reason"]


def test_tally_of_nginx_counts_the_log_and_a_rotated_log_is_a_reason(nginx_files, capsys):
    args, log = nginx_files
    _lines(log, "10.0.0.12:8080", 5)  # before the deploy
    before = run(dict(args, state="snapshot"), capsys)["snapshot"]
    _lines(log, "10.0.0.11:8080", 40)
    _lines(log, "10.0.0.12:8080", 2, "502")
    result = run(dict(args, state="tally", before=before), capsys)
    assert result["measured"] is True, result
    assert result["total"]["requests"] == 42 and result["total"]["failed"] == 2
    log.write_text("")  # truncated
    result = run(dict(args, state="tally", before=before), capsys)
    assert not result.get("failed") and result["measured"] is False and result["reason"], result


# -- during a rollout ------------------------------------------------------------------------------


def test_rollout_goes_on_while_inconclusive_and_stops_the_rollout_on_a_fail(runtimes, capsys):
    before = run(base(state="snapshot"), capsys)["snapshot"]
    runtime = runtimes[SOCKET]
    rollout = dict(state="rollout", before=before, require_pass=True)
    first = run(base(entered=[], entering=["web1"], **rollout), capsys)
    assert "failed" not in first and first["verdict"] == "inconclusive" and first["reference"] == "none"
    assert [e["servers"] for e in first["entered"]] == [["web1"]]
    runtime.serve("web1", 20, errors=10)  # too few requests to judge: the rollout goes on
    runtime.serve("web2", 20)
    second = run(base(entered=first["entered"], entering=["web2"], **rollout), capsys)
    assert "failed" not in second and second["verdict"] == "inconclusive", second["reason"]
    assert [e["servers"] for e in second["entered"]] == [["web1"], ["web2"]]
    runtime.serve("web1", 200, errors=100)
    runtime.serve("web2", 200, errors=100)
    runtime.serve("web3", 400)
    third = run(base(entered=second["entered"], entering=["web3"], **rollout), capsys)
    assert third["failed"] is True and third["msg"].startswith("rollout analysis fail: moved servers (new release)")
    assert third["verdict"] == "fail" and third["reference"] == "unmoved"
    assert third["canary_servers"] == ["web1", "web2"] and third["baseline_servers"] == ["web3"]
    # web1 since it moved (220), web2 since it moved (200: its 20 before were the old release)
    assert third["canary"]["requests"] == 420 and third["servers"]["web3"]["requests"] == 400
