"""The bake window: the new release against the fleet's counters before the deploy, judged as it goes."""

from __future__ import annotations

import pytest
from zerodown_testkit.support.fake_clock import FakeClock
from zerodown_testkit.support.haproxy_counters import FakeRuntime

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import bake, canary, counters, errors

T = canary.Thresholds(min_requests=50)


def fleet_before(requests=10_000, errors=5, latency_ms=20):
    """A load balancer that served the old release for a while, and its snapshot before the deploy."""
    lb1 = FakeRuntime()
    for name in ("web1", "web2", "web3"):
        lb1.serve(name, requests, errors=errors, latency_ms=latency_ms)
    return lb1, counters.take_snapshot({"lb": lb1}, "app")


def test_the_reference_is_every_server_since_haproxy_started():
    _lb1, before = fleet_before()
    ref = counters.HAProxyCounters({"lb": _lb1}).reference(before)
    assert (ref.requests, ref.errors) == (30_000, 15)
    assert ref.latency_ms == pytest.approx(20, abs=1)  # rtime of the last 512 responses


def test_looks_share_the_significance():
    assert bake.looks(60, 1) == 60 and bake.looks(60, 7) == 9 and bake.looks(0.5, 1) == 1
    assert bake.look_thresholds(T, 50).significance == pytest.approx(T.significance / 50)
    assert bake.look_thresholds(T, 50).min_requests == T.min_requests


def test_a_healthy_release_passes_at_the_end_of_the_window():
    lb1, before = fleet_before()
    lb1.on_read = lambda rt: (rt.serve("web1", 30, latency_ms=21), rt.serve("web2", 30, latency_ms=19))
    clock = FakeClock()
    result = bake.watch(
        counters.HAProxyCounters({"lb": lb1}),
        "app",
        before,
        ["web1", "web2"],
        T,
        window=10,
        poll_interval=2,
        clock=clock,
    )
    assert result.verdict.verdict == "pass", result.verdict.reason
    assert (result.looks, result.looked) == (5, 5)
    assert clock.now == pytest.approx(10) and clock.sleeps == [2, 2, 2, 2, 2]
    assert result.verdict.canary.requests == 5 * 60 and result.verdict.baseline.requests == 30_000
    assert result.verdict.thresholds.significance == pytest.approx(0.01 / 5)
    assert result.verdict.reason.startswith("new release within thresholds")


def test_a_release_going_bad_stops_the_window_at_the_first_look_that_fails():
    lb1, before = fleet_before()
    clock = FakeClock()

    def traffic(rt):
        bad = clock.now >= 20  # 5xx from 20 s into the window
        rt.serve("web1", 40, errors=20 if bad else 0)

    lb1.on_read = traffic
    result = bake.watch(
        counters.HAProxyCounters({"lb": lb1}), "app", before, ["web1"], T, window=60, poll_interval=1, clock=clock
    )
    assert result.verdict.verdict == "fail"
    assert result.looked < result.looks == 60
    assert clock.now <= 23, "caught within a few looks of going bad, not at the end of the window"
    assert "new release error rate" in result.verdict.reason
    assert "the fleet's before the deploy, 0.05 % (15 of 30000)" in result.verdict.reason


def test_one_error_early_in_the_window_is_no_alarm():
    lb1, before = fleet_before(errors=3)
    served = []

    def traffic(rt):
        rt.serve("web1", 60, errors=0 if served else 1)
        served.append(1)

    lb1.on_read = traffic
    result = bake.watch(
        counters.HAProxyCounters({"lb": lb1}), "app", before, ["web1"], T, window=30, poll_interval=1, clock=FakeClock()
    )
    assert result.verdict.verdict == "pass", result.verdict.reason


def test_a_slower_release_fails_on_latency_held_over_latency_looks_after_the_warmup():
    lb1, before = fleet_before(latency_ms=20)
    lb1.on_read = lambda rt: rt.serve("web1", 100, latency_ms=400)
    result = bake.watch(
        counters.HAProxyCounters({"lb": lb1}), "app", before, ["web1"], T, window=30, poll_interval=1, clock=FakeClock()
    )
    assert result.verdict.verdict == "fail" and "mean response time" in result.verdict.reason
    # warm-up over at the 5th look; the means breach at looks 6, 7 and 8: latency_looks 3
    assert result.looked == 8 and result.stopped_early is True
    assert "held over 3 consecutive look(s), latency_looks 3" in result.verdict.reason
    assert "min_latency_increase_ms 50" in result.verdict.reason and "max_latency_ratio 1.5" in result.verdict.reason


def test_too_little_traffic_over_the_window_is_inconclusive():
    lb1, before = fleet_before()
    lb1.on_read = lambda rt: rt.serve("web1", 2)
    result = bake.watch(
        counters.HAProxyCounters({"lb": lb1}), "app", before, ["web1"], T, window=6, poll_interval=2, clock=FakeClock()
    )
    assert result.verdict.verdict == "inconclusive"
    assert result.verdict.reason.startswith("new release served")


def test_a_reloaded_haproxy_during_the_window_is_a_clear_error():
    lb1, before = fleet_before()
    clock = FakeClock()

    def reload(rt):
        if clock.now >= 2:
            rt.pid = 999

    lb1.on_read = reload
    with pytest.raises(errors.CounterResetError, match="reloaded or restarted"):
        bake.watch(
            counters.HAProxyCounters({"lb": lb1}), "app", before, ["web1"], T, window=10, poll_interval=1, clock=clock
        )


def test_taking_traffic_reads_ready_servers_with_weight_on_any_load_balancer():
    states = {
        "lb1": {"web1": {"state": "ready", "weight": 10}, "web2": {"state": "drain", "weight": 10}},
        "lb2": {"web2": {"state": "ready", "weight": 0}, "web3": {"state": "ready", "weight": 1}},
    }
    assert bake.taking_traffic(states) == ["web1", "web3"]
