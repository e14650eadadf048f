"""Analysis during a rollout: what moved so far against what did not (or before the deploy), on a fake clock."""

from __future__ import annotations

import pytest
from zerodown_testkit.support.fake_clock import FakeClock
from zerodown_testkit.support.haproxy_counters import FakeRuntime

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import canary, counters, errors, rollout
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import validate_name

T = canary.Thresholds(min_requests=50)
SERVERS = ("web1", "web2", "web3", "web4")


def validator(name):
    return validate_name(name, "server")


def fleet(requests=10_000, errors=5):
    """A load balancer that served the old release for a while, and its snapshot before the deploy."""
    lb1 = FakeRuntime(servers=SERVERS)
    for name in SERVERS:
        lb1.serve(name, requests, errors=errors, latency_ms=20)
    return lb1, counters.HAProxyCounters({"lb": lb1}), counters.take_snapshot({"lb": lb1}, "app")


def call(source, entered, entering, before=None, pause=0.0, poll_interval=1.0, clock=None):
    entries = rollout.check_entered(entered, entering, validator)
    return rollout.watch(
        source,
        "app",
        entries,
        entering,
        before,
        T,
        pause=pause,
        poll_interval=poll_interval,
        validator=validator,
        clock=clock or FakeClock(),
    )


def test_the_first_batch_only_takes_the_snapshot_and_goes_on():
    _lb1, source, _before = fleet()
    result = call(source, [], ["web1"])
    assert result.verdict.verdict == "inconclusive" and "nothing has moved yet" in result.verdict.reason
    assert result.reference == "none" and result.looked == 0
    assert [e["servers"] for e in result.entered] == [["web1"]]
    assert result.entered[0]["snapshot"]["load_balancers"]["lb"]["servers"]["web1"]["stot"] == 10_000


def test_entered_grows_by_the_batch_that_moves_now():
    lb1, source, _before = fleet()
    first = call(source, [], ["web1"]).entered
    lb1.serve("web1", 100)
    lb1.serve("web2", 100)
    second = call(source, first, ["web2"]).entered
    assert [e["servers"] for e in second] == [["web1"], ["web2"]]
    assert second[0] == first[0]  # the earlier entries are passed on as given


def test_the_moved_servers_are_judged_against_the_unmoved_ones_over_the_same_time():
    lb1, source, before = fleet()
    entered = call(source, [], ["web1"]).entered
    lb1.serve("web1", 200, errors=100)  # the new release fails half its requests
    for name in ("web2", "web3", "web4"):
        lb1.serve(name, 200, errors=0)
    result = call(source, entered, ["web2"], before=before)
    assert result.verdict.verdict == "fail", result.verdict.reason
    assert result.reference == "unmoved"
    assert result.moved == ["web1"] and result.unmoved == ["web2", "web3", "web4"]
    assert (result.verdict.canary.requests, result.verdict.canary.errors) == (200, 100)
    assert result.verdict.baseline.requests == 600  # the unmoved servers since web1's snapshot, not since HAProxy began
    assert "moved servers (new release) error rate 50.00 %" in result.verdict.reason
    assert "servers not moved yet" in result.verdict.reason


def test_each_entry_counts_from_its_own_snapshot():
    lb1, source, _before = fleet()
    entered = call(source, [], ["web1"]).entered
    lb1.serve("web1", 100)
    lb1.serve("web2", 500, errors=50)  # web2 on the old release, before it moved: not the new release's
    entered = call(source, entered, ["web2"]).entered
    lb1.serve("web2", 30)
    lb1.serve("web3", 300)
    result = call(source, entered, ["web3"])
    assert result.verdict.canary.requests == 130 and result.verdict.canary.errors == 0
    assert result.verdict.verdict == "pass", result.verdict.reason


def test_when_every_server_moved_the_reference_is_the_fleet_before_the_deploy():
    lb1, source, before = fleet()
    entered = call(source, [], list(SERVERS)).entered
    for name in SERVERS:
        lb1.serve(name, 100, errors=30)
    result = call(source, entered, [], before=before)
    assert result.reference == "before" and result.unmoved == []
    assert result.verdict.baseline.requests == 40_000  # every server since HAProxy started, at the snapshot
    assert result.verdict.verdict == "fail" and "the fleet's before the deploy" in result.verdict.reason
    assert [e["servers"] for e in result.entered] == [list(SERVERS)]  # nothing entering: nothing added


def test_unmoved_servers_that_served_nothing_give_way_to_before():
    lb1, source, before = fleet()
    entered = call(source, [], ["web1", "web2"]).entered
    lb1.serve("web1", 100)
    lb1.serve("web2", 100)  # web3 and web4 are drained: they served nothing
    result = call(source, entered, ["web3", "web4"], before=before)
    assert result.reference == "before" and result.verdict.verdict == "pass", result.verdict.reason


def test_too_few_requests_is_inconclusive_and_goes_on():
    lb1, source, before = fleet()
    entered = call(source, [], ["web1"]).entered
    lb1.serve("web1", 10, errors=5)
    lb1.serve("web2", 10)
    result = call(source, entered, ["web2"], before=before)
    assert result.verdict.verdict == "inconclusive" and "fewer than min_requests 50" in result.verdict.reason
    assert [e["servers"] for e in result.entered] == [["web1"], ["web2"]]


def test_a_watch_stops_at_the_first_look_that_fails():
    lb1, source, before = fleet()
    entered = call(source, [], ["web1"]).entered
    clock = FakeClock()
    lb1.on_read = lambda rt: (rt.serve("web1", 40, errors=20 if clock.now >= 3 else 0), rt.serve("web2", 40))
    result = call(source, entered, ["web2"], before=before, pause=20, poll_interval=1, clock=clock)
    assert result.verdict.verdict == "fail", result.verdict.reason
    assert result.looks == 20 and 3 <= result.looked < 20
    assert result.verdict.thresholds.significance == pytest.approx(0.01 / 20)
    assert clock.now < 20


def test_a_watch_of_an_entry_without_snapshot_counts_from_the_start_of_the_call():
    lb1, source, before = fleet()
    lb1.serve("web3", 5000, errors=2500)  # before the call: not counted
    lb1.on_read = lambda rt: (rt.serve("web3", 30), rt.serve("web4", 30))
    clock = FakeClock()
    result = call(source, [{"servers": ["web3", "web4"]}], [], before=before, pause=10, poll_interval=5, clock=clock)
    assert result.verdict.verdict == "pass", result.verdict.reason
    assert (result.looks, result.looked) == (2, 2) and clock.sleeps == [5, 5]
    assert result.entered[0]["snapshot"]["load_balancers"]["lb"]["servers"]["web3"]["stot"] >= 15_000


@pytest.mark.parametrize(
    ("entered", "entering", "message"),
    [
        ({"servers": ["web1"]}, [], "entered must be a list of {servers, snapshot}"),
        (["web1"], [], "entered[0] must be a dict with servers and snapshot"),
        ([{"servers": "web1"}], [], "entered[0].servers must be a list of server names"),
        ([{"servers": ["web1"], "snap": {}}], [], "entered[0] has unknown key(s) ['snap']"),
        ([{"servers": ["web1"], "snapshot": "x"}], [], "entered[0].snapshot must be a snapshot"),
        ([{"servers": ["web1"]}, {"servers": ["web1"]}], [], "server 'web1' is in entered[0] and entered[1]"),
        ([{"servers": ["web1"]}], ["web1"], "web1 are in entering and already in entered"),
        ([{"servers": ["a;b"]}], [], "invalid server"),
    ],
)
def test_bad_entered_is_a_clear_error(entered, entering, message):
    with pytest.raises(errors.CanaryInputError) as exc:
        rollout.check_entered(entered, entering, validator)
    assert message in str(exc.value)


def test_a_bad_snapshot_in_entered_names_the_entry():
    _lb1, source, before = fleet()
    with pytest.raises(errors.CanaryInputError) as exc:
        call(source, [{"servers": ["web1"], "snapshot": dict(before, version=9)}], [])
    assert str(exc.value).startswith("entered[0].snapshot: since has snapshot version 9")


def test_servers_the_backend_does_not_have_are_named():
    _lb1, source, _before = fleet()
    with pytest.raises(errors.CanaryInputError) as exc:
        call(source, [], ["web9"])
    assert "entering names server(s) web9" in str(exc.value)
    with pytest.raises(errors.CanaryInputError) as exc:
        call(source, [{"servers": ["web9"]}], [])
    assert "web9 are not in the snapshot" in str(exc.value)
