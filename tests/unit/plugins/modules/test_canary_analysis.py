"""canary_analysis: argument checks (nothing sent to a load balancer on bad input) and one step on a fake clock."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from zerodown_testkit.support.haproxy_counters import FakeRuntime

from ansible_collections.zerodown.deploy.plugins.module_utils import _canary as canary
from ansible_collections.zerodown.deploy.plugins.module_utils import _haproxy
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import FakeClock
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


SNAPSHOT = canary.take_snapshot({SOCKET: FakeRuntime()}, "app", now=lambda: 1000.0)


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
            "nginx open source does not keep",
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
    assert clock.sleeps == [30]  # no real sleeping
    assert result["changed"] is False
    assert result["verdict"] == "pass", result["reason"]
    assert result["baseline_servers"] == ["web1", "web2"]
    assert result["canary"]["requests"] == 400 and result["canary"]["errors"] == 2
    assert result["baseline"]["requests"] == 4000
    assert result["servers"]["web1"]["errors"] == 10
    assert result["tests"]["error_rate_vs_baseline"]["p_value"] > 0.01
    assert result["thresholds"]["min_requests"] == 100
    assert result["waited_seconds"] == 30


def test_a_5xx_canary_fails_and_the_task_does_not(runtimes, capsys):
    clock = FakeClock()
    run(base(state="snapshot"), capsys)  # builds the runtime
    runtimes[SOCKET].on_read = lambda rt: (rt.serve("web3", 100, errors=10), rt.serve("web1", 900))
    result = run(base(canary_servers=["web3"], pause=10), capsys, clock=clock)
    assert "failed" not in result or result["failed"] is False
    assert result["verdict"] == "fail"
    assert "10.00 % (10 of 100)" in result["reason"]
    assert len(result["failures"]) == 2


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
