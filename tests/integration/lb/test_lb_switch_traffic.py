"""switch_traffic against real HAProxy processes, with continuous traffic through them."""

from __future__ import annotations

from zerodown_testkit.support.loadgen import LoadGenerator

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import wait_until


def _load(*lbs):
    return LoadGenerator(
        lbs[0].url + "/",
        concurrency=3,
        max_duration=120,
        timeout=30,
        pause=0.01,
        bucket_seconds=1.0,
        haproxy=[lb.socket for lb in lbs],
        haproxy_backend="app",
    )


def _assert_clean(report):
    print("load:", report.summary())
    assert report.requests > 20
    assert report.failed == 0, report.failures[:5]
    assert report.ok, (report.haproxy_delta_totals, report.haproxy_errors)


def test_query_mode_reports_and_changes_nothing(haproxy, module_runner):
    haproxy.runtime.set_server_state("app", "web3", "drain")
    before = haproxy.full_state()
    result = module_runner("switch_traffic", {"socket": [haproxy.socket], "backend": "app"})
    assert not result["failed"] and result["changed"] is False
    assert result["previous"] == result["current"]
    assert result["current"][haproxy.socket] == {
        "web1": {"state": "ready", "weight": 10},
        "web2": {"state": "ready", "weight": 10},
        "web3": {"state": "drain", "weight": 10},
    }
    assert result["serving"] == {haproxy.socket: ["web1", "web2"]}
    assert haproxy.full_state() == before


def test_blue_green_switch_and_exact_restore(haproxy, haproxy2, module_runner):
    # A prior state that is not the configuration's: restore must bring back exactly this.
    for lb in (haproxy, haproxy2):
        lb.runtime.set_weight("app", "web2", 7)
        lb.runtime.set_server_state("app", "web3", "drain")
    before1, before2 = haproxy.full_state(), haproxy2.full_state()
    sockets = [haproxy.socket, haproxy2.tcp_address]
    args = {"socket": sockets, "backend": "app", "active": ["web3"], "standby": ["web1", "web2"]}
    with _load(haproxy, haproxy2) as load:
        wait_until(lambda: load.requests_so_far > 20, timeout=10, interval=0.05)
        checked = module_runner("switch_traffic", args, check=True)
        assert checked["changed"] is True
        assert checked["changes"][haproxy.socket] == {
            "web1": {"state": "drain"},
            "web2": {"state": "drain"},
            "web3": {"state": "ready"},
        }
        assert checked["serving"] == {haproxy.socket: ["web3"], haproxy2.tcp_address: ["web3"]}
        assert haproxy.full_state() == before1 and haproxy2.full_state() == before2

        switched = module_runner("switch_traffic", args)
        assert not switched["failed"], switched
        assert switched["changed"] is True
        for lb in (haproxy, haproxy2):
            assert [lb.server(s)["state"] for s in ("web1", "web2", "web3")] == ["drain", "drain", "ready"]
        assert switched["serving"] == {haproxy.socket: ["web3"], haproxy2.tcp_address: ["web3"]}
        assert module_runner("switch_traffic", args)["changed"] is False
        # Traffic really moved: a later bucket is served by web3 alone.
        wait_until(lambda: load.requests_so_far > 200, timeout=20, interval=0.05)

        previous = switched["previous"]
        assert previous[haproxy.socket]["web2"] == {"state": "ready", "weight": 7}
        restore = {"socket": sockets, "backend": "app", "restore": previous}
        checked = module_runner("switch_traffic", restore, check=True)
        assert checked["changed"] is True and haproxy.server("web3")["state"] == "ready"
        restored = module_runner("switch_traffic", restore)
        assert not restored["failed"], restored
        assert restored["current"] == previous
        assert module_runner("switch_traffic", restore)["changed"] is False
    assert haproxy.full_state() == before1
    assert haproxy2.full_state() == before2
    _assert_clean(load.report)
    versions_late = load.report.version_timeline[-1]["versions"]
    assert set(versions_late) <= {"web1", "web2"}, load.report.version_timeline


def test_canary_weights_percent_and_absolute(haproxy, module_runner):
    args = {
        "socket": [haproxy.socket],
        "backend": "app",
        "servers": {"web1": {"weight": "50%"}, "web2": {"weight": 3, "state": "ready"}, "web3": {"weight": "0%"}},
    }
    with _load(haproxy) as load:
        checked = module_runner("switch_traffic", args, check=True)
        assert checked["changes"] == {
            haproxy.socket: {"web1": {"weight": 5}, "web2": {"weight": 3}, "web3": {"weight": 0}}
        }
        assert haproxy.server("web1")["weight"] == 10
        result = module_runner("switch_traffic", args)
        assert not result["failed"], result
        assert (
            haproxy.states()["web1"][2] == 5 and haproxy.states()["web2"][2] == 3 and haproxy.states()["web3"][2] == 0
        )
        assert result["serving"] == {haproxy.socket: ["web1", "web2"]}
        assert module_runner("switch_traffic", args)["changed"] is False
        back = module_runner(
            "switch_traffic", {"socket": [haproxy.socket], "backend": "app", "restore": result["previous"]}
        )
        assert back["changed"] is True
        assert [haproxy.server(s)["weight"] for s in ("web1", "web2", "web3")] == [10, 10, 10]
    _assert_clean(load.report)


def test_validation_before_any_change(haproxy, haproxy2, backends, tmp_path, module_runner):
    from zerodown_testkit.support.lbharness import HAProxyInstance

    before1, before2 = haproxy.full_state(), haproxy2.full_state()
    small = HAProxyInstance(tmp_path / "lb3", backends, servers=["web1", "web2"], tcp_stats=False)
    small_before = small.full_state()
    try:
        base = {"backend": "app"}
        cases = [
            (
                {"socket": [haproxy.socket, haproxy2.socket, small.socket], "active": ["web3"], "standby": ["web1"]},
                "no server 'web3'",
            ),
            ({"socket": [haproxy.socket, haproxy2.socket], "backend": "zz", "active": ["web1"]}, "no backend 'zz'"),
            ({"socket": [haproxy.socket, str(tmp_path / "gone.sock")], "standby": ["web1"]}, "cannot reach"),
            (
                {"socket": [haproxy.socket], "servers": {"web1;shutdown sessions server app/web2": {"state": "drain"}}},
                "invalid server",
            ),
            (
                {"socket": [haproxy.socket], "servers": {"web1\nset weight app/web2 0": {"state": "drain"}}},
                "invalid server",
            ),
            (
                {"socket": [haproxy.socket], "servers": {"web1": {"weight": 300}}},
                "invalid weight=300: give an integer 0-256",
            ),
            ({"socket": [haproxy.socket], "servers": {"web1": {"weight": "120%"}}}, "percentage"),
            ({"socket": [haproxy.socket], "servers": {"web1": {"weight": "ten"}}}, "invalid weight"),
            ({"socket": [haproxy.socket], "servers": {"web1": {"state": "up"}}}, "not a state"),
            (
                {"socket": [haproxy.socket], "servers": {"web1": {"state": "drain", "color": "x"}}},
                "state and/or weight",
            ),
            ({"socket": [haproxy.socket], "active": ["web1"], "standby": ["web1"]}, "both active and standby"),
            (
                {"socket": [haproxy.socket], "restore": {"/elsewhere.sock": {"web1": {"state": "ready", "weight": 1}}}},
                "not in this call",
            ),
            ({"socket": [haproxy.socket], "restore": {haproxy.socket: {"web1": {"weight": 1}}}}, "must be {state"),
            # web1 valid and first: it must not be applied when web2's weight is bad
            (
                {
                    "socket": [haproxy.socket, haproxy2.socket],
                    "servers": {"web1": {"state": "drain"}, "web2": {"weight": 999}},
                },
                "web2",
            ),
        ]
        for extra, message in cases:
            result = module_runner("switch_traffic", dict(base, **extra))
            assert result["failed"] is True, (extra, result)
            assert message in result["msg"], (extra, result["msg"])
            assert result["changed"] is False
            assert haproxy.full_state() == before1 and haproxy2.full_state() == before2, extra
            assert small.full_state() == small_before
    finally:
        small.stop()


def test_a_weight_that_rounds_to_0_or_a_backend_left_with_no_server_is_refused(haproxy, module_runner):
    """'5 %' of weight 10 is 0 in HAProxy's arithmetic: refused, not applied in silence; nor is a change that
    leaves the backend with nobody to take its traffic."""
    before = haproxy.full_state()
    base = {"socket": [haproxy.socket], "backend": "app"}
    for servers, message in (
        ({"web1": {"weight": "5 %"}}, "weight '5 %' of its initial weight 10 is 0 (HAProxy rounds down)"),
        ({"web1": {"weight": "9%"}}, "give at least 10%, or weight 0 / state drain"),
        (
            {"web1": {"weight": 0}, "web2": {"weight": "0%"}, "web3": {"state": "drain"}},
            "leaves backend 'app' on %s with no server taking traffic" % haproxy.socket,
        ),
    ):
        for check in (True, False):
            result = module_runner("switch_traffic", dict(base, servers=servers), check=check)
            assert result["failed"] and not result["changed"] and message in result["msg"], result
    assert haproxy.full_state() == before
    # taking traffic away on purpose, with someone left to serve, still works
    kept = module_runner("switch_traffic", dict(base, servers={"web1": {"weight": "10%"}, "web3": {"state": "drain"}}))
    assert not kept["failed"] and kept["serving"] == {haproxy.socket: ["web1", "web2"]}, kept
    assert haproxy.server("web1")["weight"] == 1
