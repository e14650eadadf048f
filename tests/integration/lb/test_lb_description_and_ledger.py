"""The whole load-balancer description as one value (load_balancer), and the ledger recorded in the same call,
against real HAProxy and nginx under continuous traffic."""

from __future__ import annotations

import json

from zerodown_testkit.support.loadgen import LoadGenerator


def lb_description(haproxy, **extra):
    return dict({"provider": "haproxy", "socket": [haproxy.socket], "backend": "app"}, **extra)


def ledger_args(tmp_path, run_id="run-1", **extra):
    return dict({"app": "shop", "path": str(tmp_path / "state"), "run_id": run_id}, **extra)


def start_ledger(module_runner, tmp_path, haproxy, servers=None):
    return module_runner(
        "deploy_ledger",
        dict(
            ledger_args(tmp_path),
            state="started",
            release="v2",
            load_balancer=lb_description(haproxy, servers=servers or {"app1": "web1", "app2": "web2", "app3": "web3"}),
        ),
    )


def read_ledger(tmp_path):
    return json.loads((tmp_path / "state" / "shop" / "ledger.json").read_text())


def test_ledger_start_captures_the_load_balancer_before_the_first_change(tmp_path, haproxy, module_runner):
    haproxy.runtime.set_weight("app", "web2", 7)
    started = start_ledger(module_runner, tmp_path, haproxy)
    assert not started["failed"], started
    assert started["ledger"]["lb_state"] == {
        haproxy.socket: {
            "web1": {"state": "ready", "weight": 10},
            "web2": {"state": "ready", "weight": 7},
            "web3": {"state": "ready", "weight": 10},
        }
    }
    assert read_ledger(tmp_path)["lb_state"] == started["ledger"]["lb_state"]


def test_ledger_start_fails_cleanly_when_a_server_is_missing_or_the_lb_is_unreachable(tmp_path, haproxy, module_runner):
    missing = start_ledger(module_runner, tmp_path, haproxy, servers={"app1": "web1", "app9": "web9"})
    assert missing["failed"] and "no server 'web9'" in missing["msg"] and "nothing was changed" in missing["msg"]
    assert not (tmp_path / "state" / "shop" / "ledger.json").exists()
    gone = module_runner(
        "deploy_ledger",
        dict(
            ledger_args(tmp_path),
            state="started",
            load_balancer={"socket": [str(tmp_path / "nope.sock")], "backend": "app"},
        ),
    )
    assert gone["failed"] and "nope.sock" in gone["msg"]
    assert not (tmp_path / "state" / "shop" / "ledger.json").exists()


def test_drain_and_enable_take_the_description_and_record_the_batch(tmp_path, haproxy, module_runner):
    start_ledger(module_runner, tmp_path, haproxy)
    load = LoadGenerator(
        haproxy.url + "/", concurrency=3, max_duration=60, pause=0.01, haproxy=[haproxy.socket], haproxy_backend="app"
    )
    with load:
        drained = module_runner(
            "drain_backend",
            {
                "load_balancer": lb_description(haproxy, servers={"app1": "web1"}),
                "servers": ["web1"],
                "ledger": ledger_args(
                    tmp_path,
                    batch=1,
                    phase="batch 1",
                    hosts=[{"host": "app1", "previous": "v1", "needs_switch": True}],
                    status="switching",
                    current="v2",
                    servers={"app1": "web1"},
                ),
            },
        )
        assert not drained["failed"], drained
        assert haproxy.server("web1")["state"] == "drain"
        entry = read_ledger(tmp_path)["hosts"]["app1"]
        assert entry["previous"] == "v1" and entry["status"] == "switching" and entry["server"] == "web1"
        assert entry["batch"] == 1 and read_ledger(tmp_path)["batches"][0]["hosts"] == ["app1"]

        enabled = module_runner(
            "switch_traffic",
            {
                "load_balancer": lb_description(haproxy),
                "active": ["web1"],
                "ledger": ledger_args(tmp_path, hosts=["app1"], status="moved", current="v2"),
            },
        )
        assert not enabled["failed"] and haproxy.server("web1")["state"] == "ready"
        assert read_ledger(tmp_path)["hosts"]["app1"]["status"] == "moved"
    report = load.report
    assert report.requests > 20 and report.failed == 0 and report.ok, (report.failures[:3], report.haproxy_delta_totals)


def test_a_ledger_that_cannot_be_written_stops_the_drain_before_any_change(tmp_path, haproxy, module_runner):
    before = haproxy.full_state()
    out = module_runner(
        "drain_backend",
        {
            "load_balancer": lb_description(haproxy),
            "servers": ["web1"],
            "ledger": ledger_args(tmp_path, run_id="no-such-run", hosts=["app1"], status="switching"),
        },
    )
    assert out["failed"] and "start one with state: started" in out["msg"] and "nothing was changed" in out["msg"]
    assert haproxy.full_state() == before


def test_the_description_and_separate_options_do_not_mix(tmp_path, haproxy, module_runner):
    before = haproxy.full_state()
    out = module_runner(
        "switch_traffic", {"load_balancer": lb_description(haproxy), "backend": "app", "active": ["web1"]}
    )
    assert out["failed"] and "not both" in out["msg"] and "backend" in out["msg"]
    missing = module_runner("drain_backend", {"socket": [haproxy.socket], "servers": ["web1"]})
    assert missing["failed"] and "backend is missing" in missing["msg"]
    assert haproxy.full_state() == before


def test_nginx_through_the_same_description(tmp_path, nginx, module_runner):
    description = nginx.module_args  # provider, nginx, backend: exactly a zerodown_plan.lb for nginx
    servers_file = description["nginx"]["servers_file"]
    read = module_runner("switch_traffic", {"load_balancer": description})
    assert not read["failed"], read
    first = sorted(read["current"][servers_file])[0]
    drained = module_runner("drain_backend", {"load_balancer": description, "servers": [first], "timeout": 30})
    assert not drained["failed"], drained
    assert drained["current"][servers_file][first]["state"] == "drain"
    back = module_runner("switch_traffic", {"load_balancer": description, "restore": drained["previous"]})
    assert not back["failed"] and back["current"][servers_file][first]["state"] == "ready"
