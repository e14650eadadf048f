from __future__ import annotations

import pytest
from zerodown_testkit.support.fake_clock import FakeClock
from zerodown_testkit.support.fake_lb import FakeProvider

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import HAProxyRuntime


def servers():
    return {
        "web1": {"state": "ready", "weight": 10},
        "web2": {"state": "ready", "weight": 10},
        "web3": {"state": "drain", "weight": 10},
    }


def test_plan_keeps_only_differences_and_resolves_percentages():
    p = FakeProvider("lb1", servers())
    current = p.read("app")
    changes = lb.plan(
        p,
        current,
        {"web1": {"state": "ready", "weight": "50%"}, "web2": {"weight": 10}, "web3": {"state": "ready"}},
    )
    assert changes == {"web1": {"weight": 5}, "web3": {"state": "ready"}}


def test_plan_rejects_bad_state_and_names_the_server_for_bad_weight():
    p = FakeProvider("lb1", servers())
    with pytest.raises(lb.LBValidationError, match="invalid state 'up' for server 'web1'"):
        lb.plan(p, p.read("app"), {"web1": {"state": "up"}})
    with pytest.raises(lb.LBValidationError, match="server 'web2' on lb1: invalid weight 999"):
        lb.plan(p, p.read("app"), {"web2": {"weight": 999}})


def test_check_servers_lists_what_exists():
    p = FakeProvider("lb1", servers())
    with pytest.raises(lb.LBValidationError, match=r"no server 'zz' \(it has: web1, web2, web3\)"):
        lb.check_servers(p, "app", p.read("app"), ["web1", "zz"])
    with pytest.raises(lb.LBValidationError, match="invalid server"):
        lb.check_servers(p, "app", p.read("app"), ["web1;x"])


def test_snapshot_and_expected():
    current = FakeProvider("lb1", servers()).read("app")
    assert lb.snapshot(current, ["web3"]) == {"web3": {"state": "drain", "weight": 10}}
    after = lb.expected(current, {"web1": {"state": "drain"}, "web3": {"weight": 2}})
    assert after == {
        "web1": {"state": "drain", "weight": 10},
        "web2": {"state": "ready", "weight": 10},
        "web3": {"state": "drain", "weight": 2},
    }


def test_order_enables_before_disabling():
    current = servers()
    changes = {"web1": {"state": "drain"}, "web3": {"state": "ready"}, "web2": {"weight": 1}}
    assert lb.order_commands(changes, current) == ["web3", "web2", "web1"]
    assert lb.order_commands({"web1": {"weight": 20}, "web2": {"weight": 5}}, current) == ["web1", "web2"]


def test_apply_all_rolls_back_earlier_lbs_when_one_fails():
    good = FakeProvider("lb1", servers())
    bad = FakeProvider("lb2", servers(), fail_apply=True)
    before = lb.read_all([good, bad], "app")
    plans = {p.id: lb.plan(p, before[p.id], {"web1": {"state": "drain"}, "web2": {"weight": 3}}) for p in (good, bad)}
    with pytest.raises(lb.LBApplyError, match="lb2: boom; every load balancer was put back") as info:
        lb.apply_all([good, bad], "app", plans, before)
    assert info.value.rolled_back is True
    assert good.servers == servers()
    assert bad.servers["web1"] == {"state": "ready", "weight": 10}


def test_forward_policy_undoes_the_changed_lbs_and_stops_at_the_first_failure():
    good, bad = FakeProvider("lb1", servers()), FakeProvider("lb2", servers(), fail_apply=True)
    later = FakeProvider("lb3", servers())
    providers = [good, bad, later]
    before = lb.read_all(providers, "app")
    plans = {p.id: lb.plan(p, before[p.id], {"web1": {"state": "drain"}}) for p in providers}
    with pytest.raises(lb.LBApplyError, match="fake load balancer lb2: boom; every load balancer was put back"):
        lb.apply_all(providers, "app", plans, before, on_failure=lb.FORWARD)
    assert good.servers == servers() and bad.servers == servers()
    assert later.applied == []  # never reached: a forward change stops at the first failure


def test_take_out_policy_goes_on_with_the_other_lbs_and_reports_the_failed_one():
    good, bad = FakeProvider("lb1", servers()), FakeProvider("lb2", servers(), fail_apply=True)
    later = FakeProvider("lb3", servers())
    providers = [good, bad, later]
    before = lb.read_all(providers, "app")
    plans = {p.id: {"web1": {"state": "drain"}} for p in providers}
    report = lb.apply_all(providers, "app", plans, before, on_failure=lb.TAKE_OUT)
    assert report.applied == ["lb1", "lb3"]
    assert report.failed == {"lb2": "fake load balancer lb2: boom"}
    # nothing undone: each load balancer that took the canary out keeps it out
    assert good.servers["web1"]["state"] == "drain" and later.servers["web1"]["state"] == "drain"


def test_wait_drained_returns_when_sessions_reach_zero():
    clock = FakeClock()
    p1, p2 = FakeProvider("lb1", servers()), FakeProvider("lb2", servers())
    p1.sessions = {"web1": 2}
    p2.sessions = {"web1": 1}
    polls = {"n": 0}
    original = p2.pending

    def pending(backend, names):
        polls["n"] += 1
        if polls["n"] == 4:
            p1.sessions["web1"] = 0
        if polls["n"] == 6:
            p2.sessions["web1"] = 0
        return original(backend, names)

    p2.pending = pending
    outcome = lb.wait_drained([p1, p2], "app", ["web1"], timeout=10, interval=0.1, clock=clock)
    assert outcome.timed_out is False and outcome.killed_sessions == 0
    assert outcome.drain_seconds == pytest.approx(0.5)
    assert clock.sleeps == [0.1] * 5  # polled, never slept past the drain


def test_wait_drained_timeout_fail_reports_remaining():
    clock = FakeClock()
    p = FakeProvider("lb1", servers())
    p.sessions = {"web1": 2, "web2": 0}
    with pytest.raises(lb.DrainTimeout, match=r"still busy after 1.0s: lb1: web1=2 .*on_timeout=shutdown") as info:
        lb.wait_drained([p], "app", ["web1", "web2"], timeout=1.0, interval=0.2, clock=clock)
    assert info.value.remaining == {"lb1": {"web1": 2}}
    assert p.shutdowns == 0 and p.sessions["web1"] == 2


def test_wait_drained_timeout_shutdown_counts_killed():
    clock = FakeClock()
    p = FakeProvider("lb1", servers())
    p.sessions = {"web1": 2, "web2": 1}
    outcome = lb.wait_drained(
        [p], "app", ["web1", "web2"], timeout=1.0, interval=0.2, on_timeout="shutdown", clock=clock
    )
    assert outcome.timed_out is True and outcome.killed_sessions == 3 and p.shutdowns == 1


def test_providers_from_params():
    params = {"provider": "haproxy", "socket": ["/run/a.sock", "127.0.0.1:9000"], "api_timeout": 2.0, "nginx": None}
    providers = lb.providers_from_params(params)
    assert [p.id for p in providers] == ["/run/a.sock", "127.0.0.1:9000"]
    assert all(isinstance(p, lb.HAProxyProvider) for p in providers)
    with pytest.raises(lb.LBValidationError, match="twice"):
        lb.providers_from_params(dict(params, socket=["/a", "/a"]))
    with pytest.raises(lb.LBValidationError, match="socket is empty"):
        lb.providers_from_params(dict(params, socket=[]))
    ng = lb.providers_from_params(
        {
            "provider": "nginx",
            "nginx": {"conf": "/c", "servers_file": "/s", "pid_file": "/p", "binary": "nginx", "prefix": None},
        }
    )
    assert isinstance(ng[0], lb.NginxProvider) and ng[0].id == "/s"


def test_render_state_lines():
    text = lb.render_state_lines(
        {"lb1": {"web2": {"state": "drain", "weight": 3}, "web1": {"state": "ready", "weight": 1}}}, "app"
    )
    assert text == "lb1 app/web1 state=ready weight=1\nlb1 app/web2 state=drain weight=3\n"


class ScriptedSocket:
    def __init__(self, answers, log):
        self.answers = answers
        self.log = log
        self.out = b""

    def sendall(self, data):
        line = data.decode().strip()
        self.log.append(line)
        self.out = self.answers.get(line.split(" ")[0] + " " + line.split(" ")[1], "\n").encode()

    def recv(self, size):
        chunk, self.out = self.out[:size], self.out[size:]
        return chunk

    def close(self):
        pass


def test_haproxy_provider_batches_changes_in_traffic_safe_order():
    state = (
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
        "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
        "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port\n"
        "3 app 1 blue 127.0.0.1 2 0 10 10 1 1 0 2 0 0 0 0 - 8001\n"
        "3 app 2 green 127.0.0.1 2 8 10 10 1 1 0 2 0 0 0 0 - 8002\n"
    )
    stat = "# pxname,svname,qcur,scur,status,\napp,blue,0,4,UP,\napp,green,1,0,DRAIN,\napp,BACKEND,0,4,UP,\n"
    log = []
    answers = {"show servers": state, "show stat": stat}
    runtime = HAProxyRuntime("/x.sock", socket_factory=lambda kind, target, timeout: ScriptedSocket(answers, log))
    provider = lb.HAProxyProvider("/x.sock", runtime=runtime)
    current = provider.read("app")
    assert (
        current["blue"]["sessions"] == 4 and current["green"]["state"] == "drain" and current["green"]["sessions"] == 1
    )
    changes = lb.plan(provider, current, {"blue": {"state": "drain"}, "green": {"state": "ready", "weight": "50%"}})
    assert changes == {"blue": {"state": "drain"}, "green": {"state": "ready", "weight": 5}}
    log.clear()
    provider.apply("app", changes)
    assert log[-1] == "set weight app/green 5; set server app/green state ready; set server app/blue state drain"
    assert provider.pending("app", ["blue", "green"]) == {"blue": 4, "green": 1}
    log.clear()
    assert provider.shutdown("app", ["blue", "green"]) == 5
    assert log[-2:] == ["shutdown sessions server app/blue", "shutdown sessions server app/green"]
    with pytest.raises(lb.LBValidationError, match="invalid server"):
        provider.check_name("a;b")


def test_haproxy_provider_maps_unreachable():
    provider = lb.HAProxyProvider("/nonexistent/dir/haproxy.sock", timeout=0.2)
    with pytest.raises(lb.LBUnreachableError, match="cannot reach"):
        provider.read("app")


def test_plan_drain_steps():
    p = FakeProvider("lb1", dict(servers(), web4={"state": "maint", "weight": 10}))
    current = p.read("app")
    names = ["web1", "web3", "web4"]
    assert lb.plan_drain(p, current, names, "drained") == ({"web1": {"state": "drain"}}, {})
    # maint: drain the ready one first, then everything not yet in maint
    assert lb.plan_drain(p, current, names, "maint") == (
        {"web1": {"state": "drain"}},
        {"web1": {"state": "maint"}, "web3": {"state": "maint"}},
    )
    assert lb.plan_drain(p, current, names, "ready") == ({"web3": {"state": "ready"}, "web4": {"state": "ready"}}, {})
    with pytest.raises(lb.LBValidationError, match="invalid state"):
        lb.plan_drain(p, current, names, "gone")


def test_desired_states_blue_green_and_servers():
    assert lb.desired_states({"c1": {"weight": "5%", "state": None}}, ["g1"], ["b1"], "maint") == {
        "c1": {"weight": "5%"},
        "g1": {"state": "ready"},
        "b1": {"state": "maint"},
    }
    assert lb.desired_states({"g1": {"weight": 3}}, ["g1"]) == {"g1": {"weight": 3, "state": "ready"}}
    for servers, active, standby, message in (
        ({"x": {"colour": 1}}, None, None, "state and/or weight"),
        ({"x": {}}, None, None, "sets nothing"),
        ({"x": {"state": "up"}}, None, None, "not a state"),
        ({"x": "ready"}, None, None, "must be a dict"),
        (None, ["a"], ["a"], "both active and standby"),
        ({"a": {"state": "drain"}}, ["a"], None, "contradicts its place in active"),
    ):
        with pytest.raises(lb.LBValidationError, match=message):
            lb.desired_states(servers, active, standby)


def test_restore_states_checks_shape_and_lbs():
    previous = {"lb1": {"web1": {"state": "ready", "weight": 10}}}
    assert lb.restore_states(previous, ["lb1", "lb2"]) == previous
    with pytest.raises(lb.LBValidationError, match="not in this call"):
        lb.restore_states({"lb9": {}}, ["lb1"])
    with pytest.raises(lb.LBValidationError, match="must be {state"):
        lb.restore_states({"lb1": {"web1": {"weight": 1}}}, ["lb1"])
    with pytest.raises(lb.LBValidationError, match="must map server names"):
        lb.restore_states({"lb1": ["web1"]}, ["lb1"])


def test_serving_and_read_back():
    states = {
        "lb1": {
            "a": {"state": "ready", "weight": 1},
            "b": {"state": "ready", "weight": 0},
            "c": {"state": "drain", "weight": 5},
        }
    }
    assert lb.serving(states) == {"lb1": ["a"]}
    assert lb.serving({"lb2": {"error": "unreachable"}}) == {"lb2": []}
    good = FakeProvider("lb1", servers())
    gone = lb.HAProxyProvider("/nonexistent/dir/x.sock", timeout=0.2)
    out = lb.read_back([good, gone], "app", ["web1"])
    assert out["lb1"] == {"web1": {"state": "ready", "weight": 10}}
    assert "cannot reach" in out["/nonexistent/dir/x.sock"]["error"]


# -- a switch waits until the servers taking over pass their health checks ---------------------------


class HealthChecked(FakeProvider):
    """Servers come up (operational state running) after ``rise`` reads, as HAProxy's checks do after a restart."""

    def __init__(self, ident, servers, rise):
        super().__init__(ident, servers)
        self.rise = dict(rise)

    def read(self, backend):
        out = super().read(backend)
        for name, left in self.rise.items():
            out[name]["operational_state"] = "running" if left <= 0 else "stopped"
            self.rise[name] = left - 1
        return out


def test_gaining_and_losing():
    current = {
        "b1": {"state": "ready", "weight": 10},
        "g1": {"state": "drain", "weight": 10},
        "c": {"state": "ready", "weight": 0},
    }
    assert lb.gaining_and_losing(current, {"g1": {"state": "ready"}, "b1": {"state": "drain"}}) == (["g1"], ["b1"])
    assert lb.gaining_and_losing(current, {"c": {"weight": 3}, "b1": {"weight": 0}}) == (["c"], ["b1"])
    assert lb.gaining_and_losing(current, {"g1": {"state": "ready"}}) == (["g1"], [])


def test_a_switch_waits_for_the_new_servers_health_then_nothing_when_nothing_loses_traffic():
    servers = {"b1": {"state": "ready", "weight": 10}, "g1": {"state": "drain", "weight": 10}}
    provider = HealthChecked("lb", servers, rise={"g1": 3})
    before = {"lb": provider.read("app")}
    plans = {"lb": {"g1": {"state": "ready"}, "b1": {"state": "drain"}}}
    clock = FakeClock()
    fresh = lb.wait_healthy([provider], "app", plans, before, timeout=5, interval=0.1, clock=clock)
    assert fresh["lb"]["g1"]["operational_state"] == "running" and clock.now > 0
    # a change that only adds traffic does not wait
    only_up = {"lb": {"g1": {"state": "ready"}}}
    assert lb.wait_healthy([provider], "app", only_up, before, timeout=5, clock=FakeClock()) is before


def test_a_switch_to_servers_that_stay_unhealthy_changes_nothing():
    servers = {"b1": {"state": "ready", "weight": 10}, "g1": {"state": "drain", "weight": 10}}
    provider = HealthChecked("lb", servers, rise={"g1": 10**6})
    before = {"lb": provider.read("app")}
    with pytest.raises(lb.LBValidationError, match="g1.*the traffic was not moved"):
        lb.wait_healthy(
            [provider],
            "app",
            {"lb": {"g1": {"state": "ready"}, "b1": {"state": "drain"}}},
            before,
            2,
            clock=FakeClock(),
        )
    assert provider.applied == []


def test_waking_servers_from_maint_goes_through_the_one_apply_path():
    """A server in maint is set to drain so that its checks run; when one load balancer refuses that change, the
    others are put back (the forward policy), and nothing is left half-woken."""
    servers = {"b1": {"state": "ready", "weight": 10}, "g1": {"state": "maint", "weight": 10}}
    first = HealthChecked("lb1", servers, rise={"g1": 3})
    second = HealthChecked("lb2", servers, rise={"g1": 3})
    second.fail_apply = True
    before = {"lb1": first.read("app"), "lb2": second.read("app")}
    plans = {pid: {"g1": {"state": "ready"}, "b1": {"state": "drain"}} for pid in before}
    with pytest.raises(lb.LBApplyError, match="lb2: boom"):
        lb.wait_healthy([first, second], "app", plans, before, timeout=5, clock=FakeClock())
    # lb1 was woken, then put back when lb2 refused (this fake lb2 refuses its own undo too, so the message says so)
    assert first.applied == [{"g1": {"state": "drain"}}, {"g1": {"state": "maint"}}]
    assert first.servers["g1"]["state"] == "maint"


class RestartingProvider(FakeProvider):
    kind = "haproxy"

    def __init__(self, ident, servers, pid=10):
        super().__init__(ident, servers)
        self.pid = pid

    def process(self):
        return {"pid": self.pid, "started": 100}


def test_a_load_balancer_restarted_since_preflight_is_refused_naming_both_processes():
    provider = RestartingProvider("lb1.sock", servers())
    current = {"lb1.sock": provider.read("app")}
    recorded = lb.processes([provider])
    assert recorded == {"lb1.sock": {"pid": 10, "started": 100}}
    lb.check_same_process([provider], recorded, current, "app")  # the same process: nothing to say
    lb.check_same_process([provider], {}, current, "app")  # nothing recorded (a rollback): nothing to compare
    provider.pid = 11
    with pytest.raises(lb.LBRestartedError) as exc:
        lb.check_same_process([provider], recorded, current, "app")
    text = str(exc.value)
    assert "lb1.sock was reloaded or restarted" in text and "pid 10 started at 100, now pid 11" in text
    assert "backend app now: " in text and "ready weight" in text


def test_a_provider_whose_states_survive_a_restart_has_no_process_to_compare():
    provider = FakeProvider("nginx.conf", servers())
    assert provider.process() is None and lb.processes([provider]) == {}
    lb.check_same_process([provider], {"nginx.conf": {"pid": 1, "started": 1}}, {}, "app")


def test_a_percentage_that_rounds_to_0_is_refused_naming_the_least_that_is_not():
    runtime_provider = lb.HAProxyProvider("/run/haproxy/admin.sock")
    info = {"state": "ready", "weight": 10, "initial_weight": 10}
    assert runtime_provider.target_weight(info, "10%") == 1 and runtime_provider.target_weight(info, "0%") == 0
    for given in ("5 %", "9%", "1%"):
        with pytest.raises(lb.LBValidationError, match="of its initial weight 10 is 0 .*give at least 10%"):
            runtime_provider.target_weight(info, given)
    with pytest.raises(lb.LBValidationError, match="of its initial weight 3 is 0 .*at least 34%"):
        runtime_provider.target_weight(dict(info, initial_weight=3), "33%")


def test_a_change_that_leaves_no_server_taking_traffic_is_refused():
    before = {"lb1": servers()}
    drained = {"lb1": dict(servers(), web1={"state": "ready", "weight": 0}, web2={"state": "drain", "weight": 10})}
    with pytest.raises(lb.LBValidationError, match="leaves backend 'app' on lb1 with no server taking traffic"):
        lb.check_still_serving(before, drained, "app")
    lb.check_still_serving(before, {"lb1": dict(servers(), web1={"state": "drain", "weight": 10})}, "app")
    # a backend that served nobody before is not made worse by the change
    lb.check_still_serving(drained, drained, "app")
