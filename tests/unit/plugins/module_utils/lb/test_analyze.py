"""canary_analysis's engine: a failing canary taken out through lb/core.py's apply path (TAKE_OUT policy)."""

from __future__ import annotations

from types import SimpleNamespace

from zerodown_testkit.support.fake_clock import FakeClock
from zerodown_testkit.support.fake_lb import FakeProvider
from zerodown_testkit.support.scripted_counters import ScriptedCounters, steady

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import analyze, canary
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.counters import Counts


class StillSource:
    """Counters that never move: the canary served nothing until it was out."""

    def snapshot(self, backend, servers=None, now=None):
        return {"backend": backend, "taken_at": 0.0}

    def step(self, since, now):
        return {}


def fleet():
    return {"web1": {"state": "ready", "weight": 10}, "web2": {"state": "ready", "weight": 10}}


def test_take_out_goes_on_past_a_failing_load_balancer_and_waits_through_core():
    clock = FakeClock()
    good, bad = FakeProvider("lb1", fleet()), FakeProvider("lb2", fleet(), fail_apply=True)
    later = FakeProvider("lb3", fleet())
    answers = iter([{"web2": 1}, {"web2": 1}, {"web2": 0}])  # the canary's last request ends at the third look
    good.pending = lambda backend, names: next(answers)
    ctx = SimpleNamespace(providers=[good, bad, later], backend="app", clock=clock, source=StillSource())
    out = analyze.take_out(ctx, {"backend": "app", "taken_at": 0.0}, ["web2"], ["web1"])
    assert out["taken_out"] == ["lb1", "lb3"]
    assert out["not_taken_out"] == {"lb2": "fake load balancer lb2: boom"}
    assert out["warnings"] == ["the canary was not taken out of lb2: fake load balancer lb2: boom"]
    assert out["until_out"] == Counts().to_dict()
    assert good.servers["web2"]["state"] == "drain" and later.servers["web2"]["state"] == "drain"
    assert next(answers, None) is None and clock.sleeps  # polled by core's wait, on the run's clock


class GoneProvider(FakeProvider):
    """A load balancer that goes away: its first read works, the apply and every look after it fail."""

    def __init__(self, ident, servers):
        super().__init__(ident, servers)
        self.gone = False

    def read(self, backend):
        if self.gone:
            raise analyze.lb.LBError("cannot reach %s" % self.id)
        return super().read(backend)

    def pending(self, backend, servers):
        if self.gone:
            raise analyze.lb.LBError("cannot reach %s" % self.id)
        return super().pending(backend, servers)

    def apply(self, backend, changes):
        self.gone = True
        raise analyze.lb.LBError("cannot reach %s" % self.id)


def test_take_out_does_not_wait_on_a_load_balancer_that_refused_and_keeps_its_report():
    good, gone = FakeProvider("lb1", fleet()), GoneProvider("lb2", fleet())
    ctx = SimpleNamespace(providers=[good, gone], backend="app", clock=FakeClock(), source=StillSource())
    out = analyze.take_out(ctx, {"backend": "app", "taken_at": 0.0}, ["web2"], ["web1"])
    assert out["taken_out"] == ["lb1"]
    assert out["not_taken_out"] == {"lb2": "fake load balancer lb2: cannot reach lb2"}
    assert good.servers["web2"]["state"] == "drain"


def test_take_out_changes_nothing_where_no_baseline_serves():
    p = FakeProvider("lb1", {"web1": {"state": "drain", "weight": 10}, "web2": {"state": "ready", "weight": 10}})
    ctx = SimpleNamespace(providers=[p], backend="app", clock=FakeClock(), source=StillSource())
    assert analyze.take_out(ctx, {"backend": "app", "taken_at": 0.0}, ["web2"], ["web1"]) == {}
    assert p.applied == []


def test_a_canary_failing_27_percent_is_out_at_the_first_look_with_min_requests_in_the_same_call():
    """The reported case: 27 % errors served 396 failures because the step was judged only when its pause ended."""
    clock = FakeClock()
    provider = FakeProvider("lb1", {n: {"state": "ready", "weight": 10} for n in ("web1", "web2", "web3")})
    drained_at = []
    apply = provider.apply

    def recording_apply(backend, changes):
        drained_at.append(clock.now)
        apply(backend, changes)

    provider.apply = recording_apply
    # 20 canary requests/s failing 27 %, 380 clean baseline requests/s; the canary serves while it is ready
    source = ScriptedCounters(
        clock,
        {"web3": steady(20, 0.27), "web1": steady(190), "web2": steady(190)},
        serving=lambda name: provider.servers[name]["state"] == "ready",
    )
    params = dict(
        since=None,
        canary_servers=["web3"],
        baseline_servers=["web1", "web2"],
        pause=30,
        max_wait=120,
        poll_interval=1.0,
        take_out_on_fail=True,
    )
    ctx = SimpleNamespace(
        params=params,
        check_mode=False,
        clock=clock,
        backend="app",
        providers=[provider],
        source=source,
        validator=None,
        thresholds=canary.Thresholds(),  # min_requests 100
    )
    outcome, fields = analyze.analyze(ctx)
    assert outcome.verdict.verdict == "fail", outcome.verdict.reason
    # min_requests (100 canary requests) at the 5th look, which fails: 27 errors of 100 against 0 of 1900
    assert (outcome.looked, outcome.stopped_early) == (5, True)
    assert (outcome.verdict.canary.requests, outcome.verdict.canary.errors) == (100, 27)
    assert fields["looks"] == 150 and fields["looked"] == 5 and fields["stopped_early"] is True
    assert fields["enough_at"] == 5, "out at the first look that could judge it"
    # taken out by the same call, at the verdict: nothing more served after it
    assert fields["taken_out"] == ["lb1"] and drained_at == [5.0]
    assert provider.servers["web3"]["state"] == "drain"
    assert fields["until_out"]["errors"] == 27 and fields["until_out"]["requests"] == 100
