"""Each app host's two servers under surge (lb/surge.py): the map, the preflight check, which servers move."""

from __future__ import annotations

import pytest
from zerodown_testkit.support.fake_lb import FakeProvider

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import surge
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.surge_handover import drain_params

SLOTS = [{"name": "a", "port": 8080}, {"name": "b", "port": 8081}]
SPEC = {
    "provider": "haproxy",
    "socket": ["/run/haproxy/admin.sock"],
    "backend": "app",
    "surge": {
        "slots": SLOTS,
        "servers": {"app1": {"a": "app1", "b": "app1_b"}, "app2": {"a": "app2", "b": "app2_b"}},
    },
}


def server(address, state="ready"):
    return {"state": state, "weight": 1, "address": address}


def test_the_map_reads_the_plans_surge_value_and_refuses_anything_else():
    surge_map = surge.SurgeMap.from_spec(SPEC)
    assert surge_map.ports == {"a": 8080, "b": 8081} and surge_map.other("a") == "b"
    assert surge_map.names() == ["app1", "app1_b", "app2", "app2_b"]
    with pytest.raises(lb.LBValidationError, match="load_balancer.surge is missing: give the plan's load balancer"):
        surge.SurgeMap.from_spec({"backend": "app"})
    with pytest.raises(lb.LBValidationError, match="must be the two slots"):
        surge.SurgeMap.from_spec({"surge": {"slots": SLOTS[:1], "servers": {}}})
    with pytest.raises(lb.LBValidationError, match=r"map each host to its server per slot \(a and b\)"):
        surge.SurgeMap.from_spec({"surge": {"slots": SLOTS, "servers": {"app1": {"a": "app1"}}}})


def test_a_complete_backend_passes():
    provider = FakeProvider(
        "lb1",
        {
            "app1": server("10.0.0.11:8080"),
            "app1_b": server("10.0.0.11:8081", "maint"),
            "app2": server("10.0.0.12:8080"),
            "app2_b": server("10.0.0.12:8081", "maint"),
            "other": server("10.0.0.99:80"),
        },
    )
    surge.check([provider], "app", {"lb1": provider.read("app")}, surge.SurgeMap.from_spec(SPEC))


def test_every_missing_or_misplaced_server_is_named_with_its_host_lb_backend_and_fix():
    lb1 = FakeProvider("lb1", {"app1": server("10.0.0.11:8080"), "app2": server("10.0.0.12:8080")})
    lb2 = FakeProvider(
        "lb2",
        {
            "app1": server("10.0.0.11:8080"),
            "app1_b": server("10.0.0.11:8080"),  # the second slot's server on the first slot's port
            "app2": server("10.0.0.12:8080"),
            "app2_b": server("10.0.0.12:0"),  # no port: HAProxy sends to the client's port, nothing to compare
        },
    )
    before = {"lb1": lb1.read("app"), "lb2": lb2.read("app")}
    with pytest.raises(lb.LBValidationError) as err:
        surge.check([lb1, lb2], "app", before, surge.SurgeMap.from_spec(SPEC))
    text = str(err.value)
    assert text.startswith("surge needs two servers per app host on every load balancer, nothing was changed")
    assert (
        "host app1 has no server for slot b on fake load balancer lb1: backend 'app' lacks server 'app1_b'; add "
        "`server app1_b 10.0.0.11:8081 check` to backend app and reload it" in text
    )
    assert "host app2 has no server for slot b on fake load balancer lb1" in text
    assert (
        "host app1 slot b: server 'app1_b' of backend 'app' on fake load balancer lb2 points at 10.0.0.11:8080, but "
        "slot b listens on port 8081" in text
    )
    assert "app2_b" not in text.split("lb2", 1)[1]


def test_a_server_disabled_in_the_configuration_is_refused():
    disabled = dict(server("10.0.0.11:8081", "maint"), admin_state=0x04)
    provider = FakeProvider("lb1", {"app1": server("10.0.0.11:8080"), "app1_b": disabled})
    spec = {"surge": {"slots": SLOTS, "servers": {"app1": {"a": "app1", "b": "app1_b"}}}}
    with pytest.raises(
        lb.LBValidationError,
        match="server 'app1_b' of backend 'app' on fake load balancer lb1 is "
        "`disabled` in the configuration, which HAProxy's runtime API cannot lift",
    ):
        surge.check([provider], "app", {"lb1": provider.read("app")}, surge.SurgeMap.from_spec(spec))


def test_nginx_gets_the_line_of_its_servers_file():
    line = surge.config_line("nginx", "10.0.0.11:8081", "10.0.0.11", 8081)
    assert line == "server 10.0.0.11:8081 down;  # zerodown: maint"


def test_handover_names_the_live_slots_servers_and_the_others():
    surge_map = surge.SurgeMap.from_spec(SPEC)
    assert surge.handover(surge_map, {"app2": "b", "app1": "b"}) == (["app1_b", "app2_b"], ["app1", "app2"])
    assert surge.handover(surge_map, {"app1": "a"}) == (["app1"], ["app1_b"])
    with pytest.raises(lb.LBValidationError, match="live is empty"):
        surge.handover(surge_map, {})
    with pytest.raises(lb.LBValidationError, match=r"live names host\(s\) db1 that the plan's surge map does not have"):
        surge.handover(surge_map, {"db1": "a"})
    with pytest.raises(
        lb.LBValidationError, match=r"live names slot\(s\) that are not the plan's \(a or b\): app1: 'c'"
    ):
        surge.handover(surge_map, {"app1": "c"})


def params(**extra):
    out = {
        "load_balancer": SPEC,
        "live": {"app1": "b"},
        "idle_state": "drained",
        "moved": False,
        "ledger": None,
        "timeout": 60.0,
        "on_timeout": "fail",
        "poll_interval": 0.1,
        "healthy_timeout": 30.0,
    }
    out.update(extra)
    return out


def test_the_handover_is_drain_backend_with_enable():
    surge_map = surge.SurgeMap.from_spec(SPEC)
    out = drain_params(params(), surge_map)
    assert out["servers"] == ["app1"] and out["enable"] == {"servers": ["app1_b"], "hosts": None}
    assert out["state"] == "drained" and out["server"] is None and out["provider"] is None
    back = drain_params(params(live={"app1": "a"}, idle_state="maint"), surge_map)
    assert back["servers"] == ["app1_b"] and back["enable"]["servers"] == ["app1"] and back["state"] == "maint"
    record = {"app": "shop", "path": "/tmp", "run_id": "r", "hosts": ["app2"], "status": "switching"}
    moved = drain_params(params(moved=True, ledger=record), surge_map)
    assert moved["enable"]["hosts"] == ["app1"] and moved["ledger"] is record
    with pytest.raises(lb.LBValidationError, match="moved: true records the hosts in the ledger: give ledger too"):
        drain_params(params(moved=True), surge_map)
