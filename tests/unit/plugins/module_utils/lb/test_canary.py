"""_canary: the statistics, HAProxy's response-time window, snapshots, deltas and the verdict."""

from __future__ import annotations

import dataclasses
import math
import random
from fractions import Fraction

import pytest
from zerodown_testkit.support.fake_clock import FakeClock
from zerodown_testkit.support.haproxy_counters import FakeRuntime, Window
from zerodown_testkit.support.scripted_counters import ScriptedCounters, steady

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import canary, counters, errors, stats

# -- statistics --------------------------------------------------------------------------


def _fisher_brute(ec, nc, eb, nb):
    total, errors = nc + nb, ec + eb
    num = sum(math.comb(errors, x) * math.comb(total - errors, nc - x) for x in range(ec, min(errors, nc) + 1))
    return Fraction(num, math.comb(total, nc))


def _binomial_brute(e, n, p):
    p = Fraction(p)
    return sum(math.comb(n, x) * p**x * (1 - p) ** (n - x) for x in range(e, n + 1))


def test_fisher_known_values():
    # Lady tasting tea, one-sided: (16 + 1) / 70.
    assert stats.fisher_one_sided(3, 4, 1, 4) == pytest.approx(17 / 70)
    # One error in 40 canary requests against a clean baseline of 760: p is the canary share.
    assert stats.fisher_one_sided(1, 40, 0, 760) == pytest.approx(0.05)
    # The canary doing better than the baseline is not evidence against it.
    assert stats.fisher_one_sided(0, 100, 10, 100) == pytest.approx(1.0)


def test_fisher_matches_exact_enumeration():
    rng = random.Random(11)
    for _attempt in range(300):
        nc, nb = rng.randint(1, 60), rng.randint(1, 60)
        ec, eb = rng.randint(0, nc), rng.randint(0, nb)
        assert stats.fisher_one_sided(ec, nc, eb, nb) == pytest.approx(
            float(_fisher_brute(ec, nc, eb, nb)), rel=1e-9, abs=1e-12
        )


def test_fisher_keeps_precision_for_tiny_p_values():
    p = stats.fisher_one_sided(50, 1000, 0, 19000)
    assert 0 < p < 1e-60
    assert p == pytest.approx(float(_fisher_brute(50, 1000, 0, 19000)), rel=1e-6)


def test_fisher_degenerate_tables():
    assert stats.fisher_one_sided(0, 40, 0, 760) == 1.0  # no errors at all
    assert stats.fisher_one_sided(5, 40, 0, 0) == 1.0  # no baseline to compare with
    assert stats.fisher_one_sided(0, 0, 3, 100) == 1.0  # no canary traffic
    assert stats.fisher_one_sided(40, 40, 0, 760) == pytest.approx(float(_fisher_brute(40, 40, 0, 760)))
    with pytest.raises(errors.CanaryError, match="inconsistent"):
        stats.fisher_one_sided(5, 4, 0, 10)


def test_binomial_known_values():
    assert stats.binomial_one_sided(1, 40, 0.01) == pytest.approx(1 - 0.99**40)  # 0.331
    assert stats.binomial_one_sided(0, 40, 0.01) == 1.0
    assert stats.binomial_one_sided(40, 40, 0.5) == pytest.approx(0.5**40)
    assert stats.binomial_one_sided(3, 10, 0.0) == 0.0  # any error breaks a zero-error budget
    assert stats.binomial_one_sided(3, 10, 1.0) == 1.0
    rng = random.Random(5)
    for _attempt in range(200):
        n = rng.randint(1, 80)
        e, p = rng.randint(0, n), rng.choice([0.001, 0.01, 0.05, 0.2, 0.5])
        assert stats.binomial_one_sided(e, n, p) == pytest.approx(float(_binomial_brute(e, n, p)), rel=1e-9, abs=1e-12)


# -- HAProxy's response-time window ---------------------------------------------------------


def _estimate(window, values):
    r0, n0 = window.rtime, window.samples
    window.add(values)
    return counters.step_mean_ms(r0, n0, window.rtime, window.samples)


def test_step_mean_on_a_cold_server_is_the_plain_mean():
    w = Window().add([10] * 300)
    assert _estimate(w, [30] * 100) == pytest.approx(30, abs=1.5)
    rng = random.Random(3)
    values = [rng.randint(0, 80) for _index in range(150)]
    assert _estimate(Window().add([5] * 100), values) == pytest.approx(sum(values) / len(values), abs=1.5)


def test_step_mean_ignores_the_history_before_the_step():
    # rtime alone would still read ~13 ms after 200 requests at 30 ms following 2000 at 10 ms.
    w = Window().add([10] * 2000)
    before = w.rtime
    estimate = _estimate(w, [30] * 200)
    assert w.rtime < 20 and before == 10
    assert estimate == pytest.approx(30, abs=1.5)


def test_step_mean_across_the_start_of_the_window():
    w = Window().add([10] * 400)
    assert _estimate(w, [50] * 300) == pytest.approx(50, abs=1.5)


def test_step_mean_without_samples_is_none():
    assert counters.step_mean_ms(12, 100, 12, 100) is None
    assert counters.step_mean_ms(0, 0, 0, 0) is None


# -- snapshots and deltas ---------------------------------------------------------------


def _times(start=1000.0, step=30.0):
    state = {"t": start - step}

    def now():
        state["t"] += step
        return state["t"]

    return now


def test_snapshot_and_step_over_two_load_balancers():
    lb1, lb2 = FakeRuntime(), FakeRuntime(pid=200)
    runtimes = {"/run/a.sock": lb1, "10.0.0.3:9999": lb2}
    now = _times()
    since = counters.take_snapshot(runtimes, "app", now=now)
    assert since["version"] == 1 and since["backend"] == "app" and since["taken_at"] == 1000.0
    assert set(since["load_balancers"]["/run/a.sock"]["servers"]) == {"web1", "web2", "web3"}
    assert since["load_balancers"]["10.0.0.3:9999"]["pid"] == 200
    lb1.serve("web1", 40, errors=2, latency_ms=20)
    lb2.serve("web1", 60, errors=3, latency_ms=40)
    lb1.serve("web2", 400)
    lb2.serve("web2", 400, econ=1, eresp=2)
    after = counters.take_snapshot(runtimes, "app", now=now)
    per_server = counters.step(since, after)
    web1 = per_server["web1"]
    assert (web1.requests, web1.errors, web1.http_5xx) == (100, 5, 5)
    assert web1.latency_ms == pytest.approx((20 * 38 + 40 * 57) / 95, abs=1.0)
    web2 = per_server["web2"]
    assert (web2.requests, web2.errors, web2.connection_errors, web2.response_errors) == (800, 3, 1, 2)
    assert per_server["web3"].requests == 0 and per_server["web3"].error_rate is None


def test_snapshot_of_named_servers_and_bad_names():
    runtimes = {"lb": FakeRuntime()}
    snap = counters.take_snapshot(runtimes, "app", ["web2"])
    assert list(snap["load_balancers"]["lb"]["servers"]) == ["web2"]
    with pytest.raises(errors.CanaryInputError, match="no server 'web9'.*it has: web1, web2, web3"):
        counters.take_snapshot(runtimes, "app", ["web9"])
    with pytest.raises(errors.CanaryInputError, match="no backend 'zz'"):
        counters.take_snapshot(runtimes, "zz")
    with pytest.raises(ValueError, match="invalid server"):
        counters.take_snapshot(runtimes, "app", ["web1;shutdown sessions server app/web2"])


def test_counters_going_back_are_a_clear_error_not_a_negative_rate():
    lb1 = FakeRuntime()
    lb1.serve("web1", 500)
    since = counters.take_snapshot({"lb": lb1}, "app")
    lb1.counters["web1"] = dict.fromkeys(counters.SNAPSHOT_FIELDS, 0)  # 'clear counters', same process
    lb1.serve("web1", 10)
    with pytest.raises(errors.CounterResetError, match=r"server web1: counters went back.*stot 500 -> 10"):
        counters.step(since, counters.take_snapshot({"lb": lb1}, "app"))


def test_a_reloaded_haproxy_is_detected_even_when_counters_grew_past_the_snapshot():
    lb1 = FakeRuntime()
    lb1.serve("web1", 10)
    since = counters.take_snapshot({"lb": lb1}, "app")
    reloaded = FakeRuntime(pid=101, started=lb1.started + 60)
    reloaded.serve("web1", 50)
    with pytest.raises(errors.CounterResetError, match="reloaded or restarted"):
        counters.step(since, counters.take_snapshot({"lb": reloaded}, "app"))


def test_check_snapshot_names_what_is_wrong():
    good = counters.take_snapshot({"lb": FakeRuntime()}, "app")
    assert counters.check_snapshot(good, "app", ["lb"]) == good
    cases = [
        ("text", "since must be a snapshot"),
        (dict(good, version=7), "snapshot version 7"),
        (dict(good, backend="other"), "taken for backend 'other'"),
        (dict(good, taken_at="noon"), "taken_at must be a number"),
    ]
    for value, message in cases:
        with pytest.raises(errors.CanaryInputError, match=message):
            counters.check_snapshot(value, "app", ["lb"])
    with pytest.raises(errors.CanaryInputError, match="same socket list"):
        counters.check_snapshot(good, "app", ["lb", "lb2"])
    broken = counters.take_snapshot({"lb": FakeRuntime()}, "app")
    broken["load_balancers"]["lb"]["servers"]["web1"]["stot"] = -4
    with pytest.raises(errors.CanaryInputError, match="counter stot of server 'web1' on lb is -4"):
        counters.check_snapshot(broken, "app", ["lb"])
    # Counters that went through JSON as strings are fine.
    stringly = counters.take_snapshot({"lb": FakeRuntime()}, "app")
    stringly["load_balancers"]["lb"]["servers"]["web1"]["stot"] = "12"
    assert counters.check_snapshot(stringly, "app", ["lb"])["load_balancers"]["lb"]["servers"]["web1"]["stot"] == 12


def test_check_groups():
    known = ["web1", "web2", "web3"]
    assert canary.check_groups(["web3"], None, known) == (["web3"], ["web1", "web2"])
    assert canary.check_groups(["web3"], ["web1"], known) == (["web3"], ["web1"])
    for args, message in [
        (([], None), "canary_servers is empty"),
        ((["web1"], ["web1", "web2"]), "in both canary_servers and baseline_servers"),
        ((["web9"], None), r"web9 are not in the snapshot \(it has: web1, web2, web3\)"),
        ((["web1\nset weight app/web2 0"], None), "invalid server"),
    ]:
        with pytest.raises(errors.CanaryInputError, match=message):
            canary.check_groups(*args, known)


# -- the verdict ------------------------------------------------------------------------


def counts(requests, errors=0, latency_ms=10.0):
    return counters.Counts(
        requests=requests,
        responses=requests,
        http_5xx=errors,
        latency_samples=requests,
        latency_weighted_ms=latency_ms * requests,
    )


T = canary.Thresholds(min_requests=30, max_error_rate=0.01, max_latency_ratio=1.5, significance=0.01)


def test_one_error_in_forty_does_not_abort():
    verdict = canary.judge(counts(40, 1), counts(760, 0), T)
    assert verdict.verdict == "pass", verdict.reason
    assert verdict.fisher_p == pytest.approx(0.05)
    assert verdict.binomial_p == pytest.approx(1 - 0.99**40)
    assert "2.50 % (1 of 40)" in verdict.reason


def test_five_percent_errors_on_a_busy_step_aborts():
    verdict = canary.judge(counts(1000, 50), counts(19000, 0), T)
    assert verdict.verdict == "fail"
    assert verdict.fisher_p < 1e-60
    assert "5.00 % (50 of 1000)" in verdict.reason and "0.00 % (0 of 19000)" in verdict.reason
    assert "Fisher exact p=" in verdict.reason and "< significance 0.01" in verdict.reason
    assert "above max_error_rate 1.00 %" in verdict.reason
    out = verdict.to_dict()
    assert out["verdict"] == "fail" and out["canary"]["error_rate"] == 0.05
    assert out["tests"]["error_rate_vs_baseline"]["significant"] is True
    assert len(out["failures"]) == 2


def test_same_errors_as_the_baseline_fail_only_on_the_absolute_threshold():
    verdict = canary.judge(counts(1000, 30), counts(3000, 90), T)
    assert verdict.verdict == "fail"
    assert verdict.fisher_p > 0.3
    assert verdict.failures == [verdict.reason]
    assert "above max_error_rate" in verdict.reason and "Fisher" not in verdict.reason


def test_too_little_traffic_is_inconclusive_never_pass():
    for canary_counts in (counts(0), counts(12), counts(29, 29)):
        verdict = canary.judge(canary_counts, counts(5000), T)
        assert verdict.verdict == "inconclusive", verdict.reason
        assert "fewer than min_requests 30" in verdict.reason
    assert canary.judge(counts(0), counts(0), T).to_dict()["canary"]["error_rate"] is None


def test_all_errors_fail():
    verdict = canary.judge(counts(100, 100), counts(1000), T)
    assert verdict.verdict == "fail" and "100.00 % (100 of 100)" in verdict.reason


def test_no_baseline_traffic_judges_on_the_absolute_threshold_only():
    verdict = canary.judge(counts(200), counts(0), T)
    assert verdict.verdict == "pass" and verdict.fisher_p is None and verdict.latency_ratio is None
    assert "baseline served no requests" in verdict.reason
    assert canary.judge(counts(200, 20), counts(0), T).verdict == "fail"


def test_latency_ratio_of_means():
    slow = canary.judge(counts(200, latency_ms=360), counts(2000, latency_ms=20), T)
    assert slow.verdict == "fail" and slow.latency_ratio == pytest.approx(18.0)
    assert "360.0 ms is 18.00 x the baseline's 20.0 ms" in slow.reason and "max_latency_ratio 1.5" in slow.reason
    assert "+340.0 ms" in slow.reason and "min_latency_increase_ms 50" in slow.reason
    ok = canary.judge(counts(200, latency_ms=25), counts(2000, latency_ms=20), T)
    assert ok.verdict == "pass" and ok.latency_ratio == pytest.approx(1.25)
    # Both below min_latency_ms (HAProxy measures whole milliseconds): no ratio out of noise.
    fast = canary.judge(counts(200, latency_ms=3), counts(2000, latency_ms=0.5), T)
    assert fast.verdict == "pass" and fast.latency_ratio == pytest.approx(1.0)
    # 3 x slower but only 40 ms: under min_latency_increase_ms 50, noise nobody rolls back for.
    small = canary.judge(counts(200, latency_ms=60), counts(2000, latency_ms=20), T)
    assert small.verdict == "pass" and "but within min_latency_increase_ms 50" in small.reason


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"min_requests": 0}, "min_requests=0"),
        ({"min_requests": 2.5}, "whole number"),
        ({"max_error_rate": 5}, "fraction between 0 and 1"),
        ({"max_latency_ratio": 0.9}, "ratio of 1 or more"),
        ({"significance": 0}, "between 0 and 0.5"),
        ({"significance": 0.9}, "between 0 and 0.5"),
        ({"min_latency_ms": -1}, "0 or more milliseconds"),
        ({"min_latency_increase_ms": -1}, "min_latency_increase_ms=-1"),
        ({"warmup": -2}, "warmup=-2"),
        ({"latency_looks": 0}, "latency_looks=0"),
        ({"latency_looks": 1.5}, "whole number"),
    ],
)
def test_thresholds_are_checked(change, message):
    values = dict(min_requests=100, max_error_rate=0.01, max_latency_ratio=1.5, significance=0.01, min_latency_ms=5.0)
    values.update(change)
    with pytest.raises(errors.CanaryInputError, match=message):
        canary.Thresholds(**values).check()


# -- one step end to end, on a fake clock -------------------------------------------------------


def test_analyze_step_pauses_on_the_clock_then_judges():
    lb1 = FakeRuntime()
    since = counters.take_snapshot({"lb": lb1}, "app")
    clock = FakeClock()

    def traffic(runtime):
        if clock.now >= 60 and not runtime.counters["web3"]["stot"]:  # what arrived at the end of the pause
            runtime.serve("web3", 200, errors=20)
            runtime.serve("web1", 2000)

    lb1.on_read = traffic
    result = canary.analyze_step({"lb": lb1}, since, ["web3"], ["web1", "web2"], T, pause=60, clock=clock)
    assert clock.sleeps == [1.0] * 60  # a look every poll_interval
    assert (result.looks, result.looked) == (60, 60)
    assert result.verdict.verdict == "fail"
    assert result.per_server["web3"].errors == 20
    assert result.waited_seconds == 60
    assert set(result.snapshot["load_balancers"]["lb"]["servers"]) == {"web1", "web2", "web3"}


def test_analyze_step_waits_for_min_requests_up_to_max_wait():
    lb1 = FakeRuntime()
    since = counters.take_snapshot({"lb": lb1}, "app")
    lb1.on_read = lambda rt: (rt.serve("web3", 10), rt.serve("web1", 100))
    clock = FakeClock()
    result = canary.analyze_step(
        {"lb": lb1}, since, ["web3"], ["web1"], T, pause=5, max_wait=60, poll_interval=2, clock=clock
    )
    assert result.verdict.verdict == "pass" and result.verdict.canary.requests == 30
    assert clock.sleeps == [2, 2, 1]  # the third look lands on the end of the pause
    # Not enough traffic within max_wait: inconclusive, after max_wait and no longer.
    quiet = FakeRuntime()
    since = counters.take_snapshot({"lb": quiet}, "app")
    clock = FakeClock()
    result = canary.analyze_step({"lb": quiet}, since, ["web3"], ["web1"], T, pause=5, max_wait=20, clock=clock)
    assert result.verdict.verdict == "inconclusive"
    assert clock.now == pytest.approx(25)


def test_large_counts_stay_cheap_and_sane():
    # A million requests: the sums stop once the terms no longer count.
    assert 0.0005 < stats.binomial_one_sided(10300, 1_000_000, 0.01) < 0.005
    assert stats.binomial_one_sided(9000, 1_000_000, 0.01) == pytest.approx(1.0)
    assert stats.fisher_one_sided(5000, 100_000, 40_000, 900_000) < 1e-10
    assert stats.fisher_one_sided(4000, 100_000, 40_000, 900_000) > 0.5


# -- the Mann-Whitney U test, against values computed by hand ----------------------------------


def test_mann_whitney_known_values():
    # No ties: U = 9 (every pair), mean 4.5, variance 3*3*7/12 = 5.25, z = (9 - 4.5 - 0.5) / sqrt(5.25) = 1.7457.
    u, p = stats.mann_whitney_greater([4, 5, 6], [1, 2, 3])
    assert u == 9 and p == pytest.approx(0.5 * math.erfc(4 / math.sqrt(5.25) / math.sqrt(2)))
    assert p == pytest.approx(0.040428, abs=1e-6)
    # The other way round: U = 0, p near 1.
    u, p = stats.mann_whitney_greater([1, 2, 3], [4, 5, 6])
    assert u == 0 and p == pytest.approx(0.985452, abs=1e-6)
    # Ties: pooled 1 | 2 2 2 2 | 3 3 3, average ranks 1, 3.5, 7; R_x = 1 + 3.5 + 3.5 + 7 = 15, U = 15 - 10 = 5;
    # tie term (4^3 - 4) + (3^3 - 3) = 84, variance 16/12 * (9 - 84/56) = 10, z = (5 - 8 - 0.5) / sqrt(10).
    u, p = stats.mann_whitney_greater([1, 2, 2, 3], [2, 2, 3, 3])
    assert u == 5 and p == pytest.approx(0.5 * math.erfc(-3.5 / math.sqrt(10) / math.sqrt(2)))
    assert p == pytest.approx(0.865809, abs=1e-6)


def test_mann_whitney_degenerate_samples():
    assert stats.mann_whitney_greater([], [1, 2])[1] == 1.0
    assert stats.mann_whitney_greater([5] * 5, [5] * 5) == (12.5, 1.0)  # all tied: no evidence


def test_mann_whitney_separates_shifted_samples_and_not_equal_ones():
    base = [float(i % 50) for i in range(1000)]
    assert stats.mann_whitney_greater([v + 10 for v in base], base)[1] < 1e-20
    assert stats.mann_whitney_greater(list(base), base)[1] == pytest.approx(0.5, abs=0.02)


# -- the thresholds as one dict ---------------------------------------------------------------------


def flat(**given):
    params = canary.Thresholds().to_dict()
    params.update(given)
    params.setdefault("thresholds", None)
    return params


def test_thresholds_dict_stands_for_the_flat_options():
    got = canary.Thresholds.from_params(flat(thresholds={"min_requests": "40", "warmup": 0, "latency_looks": 2}))
    assert (got.min_requests, got.warmup, got.latency_looks) == (40, 0.0, 2)
    assert got.max_latency_ratio == 1.5 and got.min_latency_increase_ms == 50.0  # the defaults of the rest
    assert canary.Thresholds.from_params(flat(min_requests=7)).min_requests == 7
    with pytest.raises(errors.CanaryInputError, match=r"unknown key\(s\) 'max_latency'.*the keys are min_requests"):
        canary.Thresholds.from_params(flat(thresholds={"max_latency": 2}))
    with pytest.raises(errors.CanaryInputError, match="latency_looks=0"):
        canary.Thresholds.from_params(flat(thresholds={"latency_looks": 0}))


# -- every look of a step, on the fake clock ----------------------------------------------------------

CANARY, BASELINE = ["web3"], ["web1", "web2"]
STEP = canary.Thresholds()  # the defaults: min_requests 100, warm-up 5 s, latency_looks 3, +50 ms and x1.5


def step(traffic, thresholds=STEP, pause=30, max_wait=120, values=False):
    clock = FakeClock()
    source = ScriptedCounters(clock, traffic, values=values)
    since = source.snapshot("app")
    result = canary.analyze_step(source, since, CANARY, BASELINE, thresholds, pause, max_wait, clock=clock)
    return result, clock


def fleet(canary_second, baseline_ms=5.2):
    """A canary at 20 requests/s (a 5 % share) against two baseline servers at 190/s each."""
    return {"web3": canary_second, "web1": steady(190, 0, baseline_ms), "web2": steady(190, 0, baseline_ms)}


def test_a_healthy_canary_3_ms_slower_passes():
    # The reported false rollback: 8.5 ms against 5.2 ms is 1.63 x, but 3.3 ms is noise.
    for values in (False, True):
        result, clock = step(fleet(steady(20, 0, 8.5)), values=values)
        assert result.verdict.verdict == "pass", result.verdict.reason
        assert clock.now == 30 and result.looked == 30 and result.looks == 150
    result, _clock = step(fleet(steady(20, 0, 8.5)))
    assert "8.5 ms is 1.63 x the baseline's 5.2 ms" in result.verdict.reason
    assert "but within min_latency_increase_ms 50" in result.verdict.reason


def test_a_canary_slow_only_in_its_warmup_passes():
    def cold_start(s):
        return 20, 0, 400.0 if s < 4 else 9.0  # a just-started process: slow for its first 4 s

    result, clock = step(fleet(cold_start))
    assert result.verdict.verdict == "pass", result.verdict.reason
    assert clock.now == 30
    assert result.verdict.latency.warmup == 5.0 and result.verdict.latency.canary_ms == pytest.approx(9.0)
    # Without the warm-up the first seconds weigh in the means and the step fails on latency.
    no_warmup = dataclasses.replace(STEP, warmup=0.0)
    result, _clock = step(fleet(cold_start), thresholds=no_warmup)
    assert result.verdict.verdict == "fail" and "mean response time" in result.verdict.reason


def test_300_ms_slower_fails_on_means_after_latency_looks_looks():
    result, clock = step(fleet(steady(20, 0, 305.2)))
    assert result.verdict.verdict == "fail", result.verdict.reason
    # warm-up over at the 5th look; the means breach at the 6th, 7th and 8th: latency_looks 3
    assert (result.looked, clock.now, result.stopped_early) == (8, 8, True)
    reason = result.verdict.reason
    assert "305.2 ms is 58.69 x the baseline's 5.2 ms" in reason and "+300.0 ms" in reason
    assert "above max_latency_ratio 1.5 and above min_latency_increase_ms 50" in reason
    assert "held over 3 consecutive look(s), latency_looks 3" in reason
    assert "after the first 5 s of the step, left out as warm-up" in reason


def test_300_ms_slower_fails_on_samples_at_the_first_look_with_enough_values():
    result, clock = step(fleet(steady(20, 0, 305.2)), values=True)
    assert result.verdict.verdict == "fail", result.verdict.reason
    # the first look after the warm-up has 20 canary and 380 baseline values: enough for the Mann-Whitney U test
    assert (result.looked, clock.now) == (6, 6)
    latency = result.verdict.latency
    assert latency.test == "Mann-Whitney U" and latency.values == (20, 380)
    assert "one-sided Mann-Whitney U p=" in result.verdict.reason
    assert "max_latency_ratio 1.5, + min_latency_increase_ms 50 ms" in result.verdict.reason
    assert result.verdict.to_dict()["latency"]["test"] == "Mann-Whitney U"


def test_5_percent_errors_fail_within_the_first_step_once_there_are_min_requests():
    # 20 canary requests/s with 1 error/s (5 %), 380 clean baseline requests/s: at 5 s the canary has its 100
    # requests with 5 errors against 0 of 1900; Fisher p ~ 0.05^5 = 3e-7 < 0.01 / 150 looks.
    result, clock = step(fleet(steady(20, 0.05)))
    assert result.verdict.verdict == "fail", result.verdict.reason
    assert (result.looked, clock.now) == (5, 5) and result.stopped_early
    assert (result.verdict.canary.requests, result.verdict.canary.errors) == (100, 5)
    assert "5.00 % (5 of 100)" in result.verdict.reason and "Fisher exact" in result.verdict.reason
    assert result.verdict.thresholds.significance == pytest.approx(0.01 / 150)


def test_a_step_never_passes_before_its_pause_ends():
    # Plenty of traffic from the first look: still judged until the pause is over, then passed.
    busy = {"web3": steady(500), "web1": steady(500), "web2": steady(500)}
    result, clock = step(busy, pause=12, max_wait=0)
    assert result.verdict.verdict == "pass" and clock.now == 12 and result.looked == 12
    assert clock.sleeps == [1.0] * 12
    # Too little traffic by the end of pause + max_wait: inconclusive, never a pass.
    thin = {"web3": steady(1), "web1": steady(50), "web2": steady(50)}
    result, clock = step(thin, pause=10, max_wait=20)
    assert result.verdict.verdict == "inconclusive" and clock.now == 30 and result.looked == 30
