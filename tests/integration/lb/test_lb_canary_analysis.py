"""canary_analysis against a real HAProxy serving real traffic from real backends, one of them a bad canary."""

from __future__ import annotations

import contextlib
import threading
import urllib.request

from zerodown_testkit.support import canary_checks as checks
from zerodown_testkit.support.lbharness import HAProxyInstance, canary_backends
from zerodown_testkit.support.loadgen import LoadGenerator

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb

BASELINE = ["web1", "web2"]
CANARY = "canary"


@contextlib.contextmanager
def canary_fleet(tmp_path, share: int = 25, **canary_behaviour):
    """HAProxy over two real baseline backends and one canary, weighted to give the canary ``share`` %."""
    with canary_backends(BASELINE, CANARY, **canary_behaviour) as backends:
        haproxy = HAProxyInstance(tmp_path / "lb", backends, servers=BASELINE + [CANARY])
        try:
            for name, weight in lb.canary_weights([CANARY], BASELINE, share).items():
                haproxy.runtime.set_weight("app", name, weight)
            yield haproxy
        finally:
            haproxy.stop()


def _load(haproxy):
    return LoadGenerator(haproxy.url + "/", concurrency=3, max_duration=120, timeout=30, pause=0.005)


def _args(haproxy, **extra):
    return dict({"socket": [haproxy.socket], "backend": "app"}, **extra)


def test_5xx_canary_fails_at_a_step_with_enough_traffic(tmp_path, module_runner):
    with canary_fleet(tmp_path, share=25, error_every=10) as haproxy, _load(haproxy) as load:
        state_before = haproxy.full_state()
        checks.wait_requests(load, 30)
        snap = module_runner("canary_analysis", _args(haproxy, state="snapshot"))
        assert not snap["failed"], snap
        assert snap["changed"] is False
        assert set(snap["snapshot"]["load_balancers"][haproxy.socket]["servers"]) == {"web1", "web2", CANARY}
        checks.wait_requests(load, 600)
        analyze = _args(haproxy, canary_servers=[CANARY], since=snap["snapshot"], min_requests=50)
        checked = module_runner("canary_analysis", analyze, check=True)
        result = module_runner("canary_analysis", analyze)
        assert haproxy.full_state() == state_before  # it only reads
    print(result["reason"], result["canary"], result["baseline"])
    for run in (checked, result):
        assert not run["failed"] and run["changed"] is False, run
        assert run["verdict"] == "fail", run["reason"]
        assert run["baseline_servers"] == BASELINE
        assert run["canary"]["requests"] >= 100 and run["canary"]["http_5xx"] >= 10
        assert run["baseline"]["errors"] == 0
        assert run["tests"]["error_rate_vs_baseline"]["significant"] is True
        assert run["tests"]["error_rate_vs_baseline"]["p_value"] < 0.01
        assert "above the baseline's 0.00 %" in run["reason"] and "Fisher exact p=" in run["reason"]
    # The canary answered roughly one in ten with 500, and those are the only failed requests.
    assert 0.05 < result["canary"]["error_rate"] < 0.15
    report = load.report
    assert report.failed > 0 and {f["status"] for f in report.failures} == {500}
    assert report.failed <= 0.25 * report.requests / 10 * 1.5 + 5  # bounded by the canary's share


def test_healthy_canary_passes_with_pause_and_chained_steps(tmp_path, module_runner):
    with canary_fleet(tmp_path, share=25) as haproxy, _load(haproxy) as load:
        checks.wait_requests(load, 30)
        args = _args(haproxy, canary_servers=[CANARY], baseline_servers=BASELINE)
        checks.healthy_steps_pass(module_runner, args, load, pause=4, more=400)
    assert load.report.failed == 0, load.report.failures[:5]


def test_too_little_traffic_is_inconclusive(tmp_path, module_runner):
    with canary_fleet(tmp_path, share=50) as haproxy:
        snap = module_runner("canary_analysis", _args(haproxy, state="snapshot", servers=[CANARY, "web1"]), check=True)
        assert list(snap["snapshot"]["load_balancers"][haproxy.socket]["servers"]) == [CANARY, "web1"]
        for _attempt in range(6):
            urllib.request.urlopen(haproxy.url + "/", timeout=10).read()
        result = module_runner(
            "canary_analysis",
            _args(
                haproxy,
                canary_servers=[CANARY],
                baseline_servers=["web1"],
                since=snap["snapshot"],
                min_requests=50,
                max_wait=1,
                poll_interval=0.2,
            ),
        )
    checks.inconclusive(result, most=6)


def test_slow_canary_fails_on_the_latency_ratio(tmp_path, module_runner):
    with canary_fleet(tmp_path, share=25, delay=0.04) as haproxy, _load(haproxy) as load:
        checks.wait_requests(load, 30)
        snap = module_runner("canary_analysis", _args(haproxy, state="snapshot"))
        checks.wait_requests(load, 300)
        result = module_runner(
            "canary_analysis",
            _args(
                haproxy,
                canary_servers=[CANARY],
                since=snap["snapshot"],
                min_requests=30,
                min_latency_increase_ms=checks.SLOW_INCREASE_MS,
            ),
        )
    # The step's own mean from HAProxy's rtime window: the canary sleeps 40 ms per request.
    checks.slow_canary_fails(result, 30, 100)
    assert load.report.failed == 0


def test_bad_input_and_cleared_counters(tmp_path, module_runner):
    with canary_fleet(tmp_path, share=25) as haproxy:
        snap = module_runner("canary_analysis", _args(haproxy, state="snapshot"))["snapshot"]
        before = haproxy.full_state()
        cases = [
            (
                {
                    "provider": "nginx",
                    "nginx": {"conf": "/nonexistent.conf", "servers_file": "/nonexistent.servers"},
                    "backend": "app",
                    "canary_servers": [CANARY],
                    "pause": 1,
                },
                "set nginx.access_log to a log that nginx writes with log_format zerodown",
            ),
            (_args(haproxy, canary_servers=["web9"], since=snap), "web9 are not in the snapshot"),
            (_args(haproxy, backend="zz", state="snapshot"), "no backend 'zz'"),
            (_args(haproxy, socket=[haproxy.tcp_address], canary_servers=[CANARY], since=snap), "same socket list"),
            (_args(haproxy, socket=[str(tmp_path / "gone.sock")], state="snapshot"), "cannot reach"),
            (_args(haproxy, canary_servers=[CANARY], since=snap, max_error_rate=5), "max_error_rate=5.0"),
            (_args(haproxy, canary_servers=[CANARY]), "give since"),
        ]
        for args, message in cases:
            result = module_runner("canary_analysis", args)
            assert result["failed"] is True, (args, result)
            assert message in result["msg"], (args, result["msg"])
            assert result["changed"] is False
        # Counters cleared under the step (as after a reload): a clear error, not a negative rate.
        for _attempt in range(3):
            urllib.request.urlopen(haproxy.url + "/", timeout=10).read()
        fresh = module_runner("canary_analysis", _args(haproxy, state="snapshot"))["snapshot"]
        haproxy.runtime.execute("clear counters all")
        cleared = module_runner("canary_analysis", _args(haproxy, canary_servers=[CANARY], since=fresh))
        assert cleared["failed"] is True
        assert "counters went back" in cleared["msg"] and "take a new snapshot" in cleared["msg"]
        assert haproxy.full_state() == before


def test_bake_catches_a_release_that_goes_bad_after_the_switch_within_seconds(tmp_path, module_runner):
    bad = threading.Event()
    with canary_backends(BASELINE, CANARY, error_every=2, bad=bad) as backends:
        haproxy = HAProxyInstance(tmp_path / "lb", backends, servers=BASELINE + [CANARY])
        try:
            with _load(haproxy) as load:
                checks.wait_requests(load, 300)
                before = module_runner("canary_analysis", _args(haproxy, state="snapshot"))
                assert not before["failed"], before
                # the switch: the old release out of the pool, the new one alone
                for name in BASELINE:
                    haproxy.runtime.set_server_state("app", name, "maint")
                state = haproxy.full_state()
                threading.Timer(3.0, bad.set).start()
                args = _args(
                    haproxy, state="bake", before=before["snapshot"], pause=60, poll_interval=0.5, min_requests=30
                )
                result = module_runner("canary_analysis", dict(args, require_pass=True))
                assert haproxy.full_state() == state  # it only reads
        finally:
            haproxy.stop()
    print(result["msg"], result["canary"], result["baseline"])
    assert result["failed"] is True and result["msg"].startswith("bake window fail: new release error rate")
    assert result["canary_servers"] == [CANARY], "the servers taking traffic when the window started"
    assert result["baseline"]["requests"] >= 300 and result["baseline"]["errors"] == 0
    assert result["looks"] == 120 and result["looked"] < 40
    assert result["waited_seconds"] < 20, "caught seconds after going bad (3 s in), not at the end of the 60 s window"
    assert load.report.failed > 0 and {f["status"] for f in load.report.failures} == {500}


def test_bake_of_a_healthy_release_passes_after_its_window(tmp_path, module_runner):
    with canary_fleet(tmp_path, share=25) as haproxy, _load(haproxy) as load:
        checks.wait_requests(load, 200)
        before = module_runner("canary_analysis", _args(haproxy, state="snapshot"))
        result = module_runner(
            "canary_analysis", _args(haproxy, state="bake", before=before["snapshot"], pause=3, min_requests=30)
        )
    assert not result["failed"] and result["verdict"] == "pass", result
    assert result["canary_servers"] == sorted(BASELINE + [CANARY])
    assert result["looked"] == result["looks"] == 3 and result["waited_seconds"] >= 3
    assert result["reason"].startswith("new release within thresholds")
    assert load.report.failed == 0


def test_a_failing_canary_is_taken_out_at_its_verdict_and_what_it_served_is_counted(tmp_path, module_runner):
    with canary_fleet(tmp_path, share=25, error_every=2) as haproxy:
        since = module_runner("canary_analysis", _args(haproxy, state="snapshot"))["snapshot"]  # before any traffic
        with _load(haproxy) as load:
            args = _args(
                haproxy,
                canary_servers=[CANARY],
                since=since,
                pause=3,
                min_requests=30,
                take_out_on_fail=True,
                require_pass=True,
            )
            result = module_runner("canary_analysis", args)
            state = haproxy.runtime.servers("app")
            checks.wait_requests(load, 200)  # traffic goes on, to the baseline only
    assert result["failed"] is True and result["changed"] is True and result["verdict"] == "fail"
    assert result["taken_out"] == [haproxy.socket]
    assert state[("app", CANARY)]["state"] == "drain", "drained in the same call"
    assert {s: state[("app", s)]["state"] for s in BASELINE} == {"web1": "ready", "web2": "ready"}
    out = result["until_out"]
    assert out["errors"] >= result["canary"]["errors"] and out["requests"] >= result["canary"]["requests"]
    report = load.report
    # every failed request is one of the canary's 500s, and the module counted them all (none after it was out)
    assert {f["status"] for f in report.failures} == {500}
    assert out["errors"] - 3 <= report.failed <= out["errors"], (report.failed, out)
