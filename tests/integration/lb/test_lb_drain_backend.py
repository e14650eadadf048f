"""drain_backend against real HAProxy processes, with continuous traffic through them."""

from __future__ import annotations

import time

from zerodown_testkit.support.lbharness import SlowRequests
from zerodown_testkit.support.loadgen import LoadGenerator

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import wait_until

# Seconds a "slow" request stays in flight: longer than Ansible needs to start a
# module on a busy 2-core machine, so the request is still running when the drain begins.
IN_FLIGHT = 8


def _load(*lbs, concurrency=3):
    return LoadGenerator(
        lbs[0].url + "/",
        concurrency=concurrency,
        max_duration=120,
        timeout=30,
        pause=0.01,
        haproxy=[lb.socket for lb in lbs],
        haproxy_backend="app",
    )


def _assert_clean(report):
    print("load:", report.summary())
    assert report.requests > 20, "the load generator sent too little traffic to prove anything"
    assert report.failed == 0, report.failures[:5]
    assert report.ok, (report.haproxy_delta_totals, report.haproxy_errors)


def checked_with_diff(module_runner, monkeypatch, name, args):
    """Check mode with --diff; verbosity 3 keeps the diff in the callback's JSON."""
    with monkeypatch.context() as patch:
        patch.setenv("ANSIBLE_VERBOSITY", "3")
        return module_runner(name, args, check=True, diff=True)


def test_drain_waits_for_slow_in_flight_requests_with_zero_failures(haproxy, backends, module_runner, monkeypatch):
    args = {"socket": [haproxy.socket], "backend": "app", "server": "web1", "timeout": 30, "poll_interval": 0.1}
    with _load(haproxy) as load:
        wait_until(lambda: load.requests_so_far > 20, timeout=10, interval=0.05)
        slow = SlowRequests(haproxy.url + "/pin/web1/slow?delay=%s" % IN_FLIGHT, 3)
        wait_until(lambda: backends["web1"].in_flight >= 3, timeout=10, interval=0.02)

        # check mode: reports, changes nothing on the live HAProxy
        checked = checked_with_diff(module_runner, monkeypatch, "drain_backend", args)
        assert checked["changed"] is True and not checked["failed"]
        assert checked["sessions_at_start"] >= 3  # the slow ones, plus any regular request on web1
        assert checked["current"][haproxy.socket]["web1"]["state"] == "drain"
        assert "state=ready" in checked["diff"]["before"] and "state=drain" in checked["diff"]["after"]
        assert haproxy.server("web1")["state"] == "ready"
        assert haproxy.server("web1")["admin_state"] == 0

        more = SlowRequests(haproxy.url + "/pin/web1/slow?delay=%s" % IN_FLIGHT, 2)
        wait_until(lambda: backends["web1"].in_flight >= 2, timeout=10, interval=0.02)
        result = module_runner("drain_backend", args)
        returned = time.monotonic()
        results = slow.join() + more.join()
        assert not result["failed"], result
        assert result["changed"] is True
        assert result["previous"] == {haproxy.socket: {"web1": {"state": "ready", "weight": 10}}}
        assert result["current"] == {haproxy.socket: {"web1": {"state": "drain", "weight": 10}}}
        assert result["sessions_at_start"] >= 2 and result["killed_sessions"] == 0, (result, results)
        assert haproxy.server("web1")["state"] == "drain"
        assert haproxy.server("web1")["scur"] == 0

        # Every slow request finished normally, and drain returned right after the last one.
        assert [r["status"] for r in results] == [200] * 5, results
        last_end = max(r["ended"] for r in results)
        lag = result["drained_at"] - last_end
        print(
            "drain returned %.3fs after the last in-flight request ended (drain_seconds=%.3f)"
            % (lag, result["drain_seconds"])
        )
        assert -0.05 < lag < 1.0
        assert result["drain_seconds"] > 0.2

        again = module_runner("drain_backend", args)
        assert not again["failed"] and again["changed"] is False
        assert again["sessions_at_start"] == 0 and again["drain_seconds"] < 1.0
    _assert_clean(load.report)
    # No new request reached web1 once it was drained.
    assert [r.path for r in backends["web1"].requests if r.at > returned] == []


def test_ready_puts_the_server_back(haproxy, module_runner):
    haproxy.runtime.set_server_state("app", "web2", "drain")
    args = {"socket": [haproxy.socket], "backend": "app", "servers": ["web2"], "state": "ready"}
    checked = module_runner("drain_backend", args, check=True)
    assert checked["changed"] is True and haproxy.server("web2")["state"] == "drain"
    result = module_runner("drain_backend", args)
    assert result["changed"] is True and haproxy.server("web2")["state"] == "ready"
    assert result["current"][haproxy.socket]["web2"] == {"state": "ready", "weight": 10}
    assert module_runner("drain_backend", args)["changed"] is False


def test_maint_drains_then_sets_maintenance(haproxy, backends, module_runner):
    args = {"socket": [haproxy.socket], "backend": "app", "server": "web3", "state": "maint", "timeout": 20}
    with _load(haproxy) as load:
        checked = module_runner("drain_backend", args, check=True)
        assert checked["changed"] and haproxy.server("web3")["state"] == "ready"
        slow = SlowRequests(haproxy.url + "/pin/web3/slow?delay=%s" % IN_FLIGHT, 2)
        wait_until(lambda: backends["web3"].in_flight >= 2, timeout=10, interval=0.02)
        result = module_runner("drain_backend", args)
        assert [r["status"] for r in slow.join()] == [200, 200]
        assert not result["failed"], result
        assert result["sessions_at_start"] >= 2
        assert haproxy.server("web3")["state"] == "maint"
        assert result["current"][haproxy.socket]["web3"]["state"] == "maint"
        again = module_runner("drain_backend", args)
        assert again["changed"] is False
        # Already in maintenance counts as drained: nothing to change.
        assert module_runner("drain_backend", dict(args, state="drained"))["changed"] is False
        assert haproxy.server("web3")["state"] == "maint"
    _assert_clean(load.report)


def test_timeout_fail_leaves_sessions_running(haproxy, backends, module_runner):
    args = {"socket": [haproxy.socket], "backend": "app", "server": "web1", "timeout": 0.5, "on_timeout": "fail"}
    slow = SlowRequests(haproxy.url + "/pin/web1/slow?delay=%s" % (IN_FLIGHT + 4), 2)
    wait_until(lambda: backends["web1"].in_flight == 2, timeout=10, interval=0.02)
    result = module_runner("drain_backend", args)
    assert result["failed"] is True
    assert "still busy" in result["msg"] and "web1=2" in result["msg"] and "on_timeout=shutdown" in result["msg"]
    assert result["timed_out"] is True and result["killed_sessions"] == 0
    assert result["remaining"] == {haproxy.socket: {"web1": 2}}
    assert result["previous"][haproxy.socket]["web1"]["state"] == "ready"
    # The server stays drained and its sessions keep running to completion.
    assert haproxy.server("web1")["state"] == "drain"
    assert haproxy.server("web1")["scur"] == 2
    assert [r["status"] for r in slow.join()] == [200, 200]


def test_timeout_shutdown_kills_and_reports(haproxy, backends, module_runner):
    args = {"socket": [haproxy.socket], "backend": "app", "server": "web1", "timeout": 0.5, "on_timeout": "shutdown"}
    with _load(haproxy) as load:
        slow = SlowRequests(haproxy.url + "/pin/web1/slow?delay=20", 2)
        wait_until(lambda: backends["web1"].in_flight == 2, timeout=10, interval=0.02)
        result = module_runner("drain_backend", args)
        assert not result["failed"], result
        assert result["timed_out"] is True
        assert result["killed_sessions"] == 2
        # The sessions are really gone: HAProxy has none, the clients saw them cut.
        assert haproxy.server("web1")["scur"] == 0
        results = slow.join(10)
        assert len(results) == 2 and all(r["status"] != 200 for r in results), results
        assert max(r["ended"] for r in results) <= result["drained_at"] + 0.5
        assert haproxy.server("web1")["state"] == "drain"
    # Traffic to the other servers never noticed.
    print("load:", load.report.summary())
    assert load.report.failed == 0, load.report.failures[:5]
    # ...but HAProxy's counters, as the load generator snapshots them, show the cut sessions.
    web1 = load.report.haproxy_delta[haproxy.socket]["app/web1"]
    assert web1["eresp"] + web1["srv_abrt"] + web1["cli_abrt"] >= 1, web1
    assert not load.report.ok


def test_two_load_balancers_drained_in_one_call(haproxy, haproxy2, backends, module_runner):
    sockets = [haproxy.socket, haproxy2.tcp_address]
    args = {"socket": sockets, "backend": "app", "servers": ["web1", "web2"], "timeout": 20}
    with (
        _load(haproxy, haproxy2) as load,
        LoadGenerator(haproxy2.url + "/", concurrency=2, max_duration=120, pause=0.005) as load2,
    ):
        checked = module_runner("drain_backend", args, check=True)
        assert checked["changed"] and set(checked["sessions_by_server"]) == set(sockets)
        assert checked["current"][haproxy2.tcp_address]["web2"]["state"] == "drain"
        assert haproxy.server("web1")["state"] == "ready" and haproxy2.server("web2")["state"] == "ready"
        slow1 = SlowRequests(haproxy.url + "/pin/web1/slow?delay=%s" % (IN_FLIGHT - 1), 1)
        slow2 = SlowRequests(haproxy2.url + "/pin/web2/slow?delay=%s" % IN_FLIGHT, 1)
        wait_until(
            lambda: backends["web1"].in_flight >= 1 and backends["web2"].in_flight >= 1, timeout=10, interval=0.02
        )
        result = module_runner("drain_backend", args)
        ends = [r["ended"] for r in slow1.join() + slow2.join()]
        assert not result["failed"], result
        assert result["sessions_by_server"][haproxy.socket]["web1"] >= 1
        assert result["sessions_by_server"][haproxy2.tcp_address]["web2"] >= 1
        for lb in (haproxy, haproxy2):
            assert lb.server("web1")["state"] == "drain" and lb.server("web2")["state"] == "drain"
            assert lb.server("web3")["state"] == "ready"
        assert set(result["current"]) == set(sockets)
        lag = result["drained_at"] - max(ends)
        print("two LBs: drain returned %.3fs after the last in-flight request ended" % lag)
        assert -0.05 < lag < 1.0
        assert module_runner("drain_backend", args)["changed"] is False
    _assert_clean(load.report)
    assert load2.report.failed == 0


def test_validation_fails_before_any_change_on_any_lb(haproxy, haproxy2, backends, tmp_path, module_runner):
    from zerodown_testkit.support.lbharness import HAProxyInstance

    before1, before2 = haproxy.full_state(), haproxy2.full_state()
    small = HAProxyInstance(tmp_path / "lb3", backends, servers=["web1", "web2"], tcp_stats=False)
    try:
        cases = [
            # web3 is missing on the last LB only
            (
                {"socket": [haproxy.socket, haproxy2.socket, small.socket], "servers": ["web1", "web3"]},
                "no server 'web3'",
            ),
            ({"socket": [haproxy.socket, haproxy2.socket], "backend": "nope", "server": "web1"}, "no backend 'nope'"),
            ({"socket": [haproxy.socket, str(tmp_path / "absent.sock")], "server": "web1"}, "cannot reach"),
            ({"socket": [haproxy.socket, "127.0.0.1:1"], "server": "web1"}, "cannot reach"),
            ({"socket": [haproxy.socket], "server": "web1;set server app/web2 state maint"}, "invalid server"),
            ({"socket": [haproxy.socket], "server": "web1\nset server app/web2 state maint"}, "invalid server"),
            (
                {"socket": [haproxy.socket], "backend": "app;shutdown sessions server app/web1", "server": "web1"},
                "invalid backend",
            ),
            ({"socket": [haproxy.socket], "servers": []}, "servers is empty"),
            ({"socket": [haproxy.socket], "server": "web1", "poll_interval": 0}, "poll_interval"),
        ]
        for extra, message in cases:
            args = dict({"backend": "app", "timeout": 5}, **extra)
            result = module_runner("drain_backend", args)
            assert result["failed"] is True, (extra, result)
            assert message in result["msg"], (extra, result["msg"])
            assert result["changed"] is False
            assert haproxy.full_state() == before1 and haproxy2.full_state() == before2, extra
            assert all(small.server(s)["state"] == "ready" for s in ("web1", "web2"))
    finally:
        small.stop()
