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


def test_between_two_batches_one_call_brings_the_moved_batch_back_and_drains_the_next(tmp_path, haproxy, module_runner):
    """drain_backend's enable: batch 1 back into rotation and batch 2 drained in one call, both recorded (moved,
    then switching); after the last batch, enable alone with nothing to drain. Zero failed requests throughout."""
    start_ledger(module_runner, tmp_path, haproxy)
    servers = {"app1": "web1", "app2": "web2", "app3": "web3"}
    lb = lb_description(haproxy)
    load = LoadGenerator(
        haproxy.url + "/", concurrency=3, max_duration=60, pause=0.01, haproxy=[haproxy.socket], haproxy_backend="app"
    )

    def batch(number, host):
        return ledger_args(
            tmp_path,
            batch=number,
            phase="batch %d" % number,
            hosts=[host],
            status="switching",
            current="v2",
            servers=servers,
        )

    with load:
        first = module_runner("drain_backend", {"load_balancer": lb, "servers": ["web1"], "ledger": batch(1, "app1")})
        assert not first["failed"], first
        between = {
            "load_balancer": lb,
            "enable": {"servers": ["web1"], "hosts": ["app1"]},
            "servers": ["web2"],
            "ledger": batch(2, "app2"),
        }
        checked = module_runner("drain_backend", between, check=True)
        assert checked["changed"] and not checked["failed"], checked
        assert checked["current"][haproxy.socket] == {
            "web1": {"state": "ready", "weight": 10},
            "web2": {"state": "drain", "weight": 10},
        }
        assert haproxy.server("web1")["state"] == "drain" and haproxy.server("web2")["state"] == "ready"
        assert read_ledger(tmp_path)["hosts"]["app1"]["status"] == "switching", "check mode records nothing"

        result = module_runner("drain_backend", between)
        assert not result["failed"], result
        assert result["previous"][haproxy.socket]["web1"]["state"] == "drain"
        assert result["current"][haproxy.socket] == checked["current"][haproxy.socket]
        assert haproxy.server("web1")["state"] == "ready" and haproxy.server("web2")["state"] == "drain"
        assert haproxy.server("web2")["scur"] == 0
        ledger = read_ledger(tmp_path)
        assert ledger["hosts"]["app1"]["status"] == "moved" and ledger["hosts"]["app1"]["current"] == "v2"
        assert ledger["hosts"]["app2"]["status"] == "switching" and ledger["hosts"]["app2"]["batch"] == 2
        assert ledger["hosts"]["app2"]["server"] == "web2"
        assert [b["hosts"] for b in ledger["batches"]] == [["app1"], ["app2"]]

        last = module_runner(
            "drain_backend",
            {
                "load_balancer": lb,
                "enable": {"servers": ["web2"], "hosts": ["app2"]},
                "servers": [],
                "ledger": ledger_args(tmp_path, current="v2", servers=servers),
            },
        )
        assert not last["failed"] and last["changed"], last
        assert last["drain_seconds"] == 0 and last["drained_at"] is None
        assert haproxy.server("web2")["state"] == "ready"
        ledger = read_ledger(tmp_path)
        assert ledger["hosts"]["app2"]["status"] == "moved" and len(ledger["batches"]) == 2
    report = load.report
    assert report.requests > 20 and report.failed == 0 and report.ok, (report.failures[:3], report.haproxy_delta_totals)


def test_enable_refuses_a_server_in_both_lists_and_state_ready_changing_nothing(tmp_path, haproxy, module_runner):
    before = haproxy.full_state()
    both = module_runner(
        "drain_backend",
        {"load_balancer": lb_description(haproxy), "enable": {"servers": ["web1"]}, "servers": ["web1", "web2"]},
    )
    assert both["failed"] and "web1 in both servers and enable.servers" in both["msg"], both
    ready = module_runner(
        "drain_backend",
        {
            "load_balancer": lb_description(haproxy),
            "enable": {"servers": ["web1"]},
            "servers": ["web2"],
            "state": "ready",
        },
    )
    assert ready["failed"] and "enable is for state=drained or state=maint" in ready["msg"], ready
    nothing = module_runner("drain_backend", {"load_balancer": lb_description(haproxy), "servers": []})
    assert nothing["failed"] and "servers is empty" in nothing["msg"], nothing
    unknown = module_runner(
        "drain_backend",
        {"load_balancer": lb_description(haproxy), "enable": {"servers": ["web9"]}, "servers": ["web2"]},
    )
    assert unknown["failed"] and "'web9'" in unknown["msg"], unknown
    assert haproxy.full_state() == before


def test_a_restarted_haproxy_stops_the_next_forward_step_and_the_rollback_restores(tmp_path, haproxy, module_runner):
    """Fault case 10: HAProxy restarted mid-deploy (its runtime states back to the configuration) is detected by
    the next step that records in the ledger; nothing is changed on top of states nobody described."""
    started = start_ledger(module_runner, tmp_path, haproxy)
    assert started["ledger"]["lb_process"] == {haproxy.socket: {"pid": haproxy.proc.pid, "started": ANY_INT}}
    web1 = {"app1": "web1"}
    drained = module_runner(
        "drain_backend",
        {
            "load_balancer": lb_description(haproxy, servers=web1),
            "servers": ["web1"],
            "ledger": ledger_args(tmp_path, batch=1, hosts=["app1"], status="switching", servers=web1),
        },
    )
    assert not drained["failed"] and haproxy.server("web1")["state"] == "drain", drained
    haproxy.restart()
    assert haproxy.server("web1")["state"] == "ready", "the restart put web1 back to its configured state"
    before = haproxy.full_state()
    enabled = module_runner(
        "switch_traffic",
        {
            "load_balancer": lb_description(haproxy),
            "active": ["web1"],
            "ledger": ledger_args(tmp_path, hosts=["app1"], status="moved", current="v2"),
        },
    )
    assert enabled["failed"] and "was reloaded or restarted during this deploy" in enabled["msg"], enabled
    assert "pid %s" % haproxy.proc.pid in enabled["msg"] and "web1 ready weight 10" in enabled["msg"]
    assert read_ledger(tmp_path)["hosts"]["app1"]["status"] == "switching", "the refused step was not recorded"
    drained2 = module_runner(
        "drain_backend",
        {
            "load_balancer": lb_description(haproxy, servers={"app2": "web2"}),
            "servers": ["web2"],
            "ledger": ledger_args(tmp_path, batch=2, hosts=["app2"], status="switching"),
        },
    )
    assert drained2["failed"] and "reloaded or restarted" in drained2["msg"] and haproxy.full_state() == before
    # the rollback's steps (status rolled_back) and its restore go ahead on the new process
    web2_maint = module_runner(
        "switch_traffic", {"load_balancer": lb_description(haproxy), "servers": {"web2": {"state": "maint"}}}
    )
    assert not web2_maint["failed"]
    back = module_runner(
        "switch_traffic",
        {
            "load_balancer": lb_description(haproxy),
            "restore_ledger": {"app": "shop", "path": str(tmp_path / "state")},
            "ledger": ledger_args(tmp_path, hosts=["app1"], status="rolled_back", current="v1"),
        },
    )
    assert not back["failed"], back
    assert haproxy.states(("srv_admin_state", "srv_uweight")) == {n: (0, 10) for n in ("web1", "web2", "web3")}


class _AnyInt(int):
    def __eq__(self, other):
        return isinstance(other, int) and other > 0

    __hash__ = int.__hash__


ANY_INT = _AnyInt()


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


def test_two_load_balancers_whose_states_differ_are_each_restored_to_their_own(
    tmp_path, haproxy, haproxy2, module_runner
):
    # before the deploy the two HAProxy instances do not agree (a weight changed by hand on one, a server in maint on
    # the other): a rollback must give each its own state back, not the first one's to both
    haproxy.runtime.set_weight("app", "web2", 3)
    haproxy2.runtime.set_server_state("app", "web3", "maint")
    before1, before2 = haproxy.full_state(), haproxy2.full_state()
    both = {"provider": "haproxy", "socket": [haproxy.socket, haproxy2.socket], "backend": "app"}
    started = module_runner(
        "deploy_ledger", dict(ledger_args(tmp_path), state="started", release="v2", load_balancer=both)
    )
    assert not started["failed"], started
    assert started["ledger"]["lb_state"][haproxy.socket]["web2"]["weight"] == 3
    assert started["ledger"]["lb_state"][haproxy2.socket]["web3"]["state"] == "maint"

    # the deploy changes both the same way: web1 drained, web2 and web3 ready at weight 10
    changed = module_runner(
        "switch_traffic",
        {
            "load_balancer": both,
            "servers": {"web1": {"state": "drain"}, "web2": {"weight": 10}, "web3": {"state": "ready"}},
        },
    )
    assert not changed["failed"], changed
    assert haproxy.full_state() != before1 and haproxy2.full_state() != before2

    restored = module_runner(
        "switch_traffic", {"load_balancer": both, "restore_ledger": {"app": "shop", "path": str(tmp_path / "state")}}
    )
    assert not restored["failed"], restored
    assert haproxy.full_state() == before1
    assert haproxy2.full_state() == before2


def test_restore_from_a_ledger_that_captured_nothing_is_refused(tmp_path, haproxy, module_runner):
    before = haproxy.full_state()
    out = module_runner(
        "switch_traffic",
        {"load_balancer": lb_description(haproxy), "restore_ledger": {"app": "shop", "path": str(tmp_path / "none")}},
    )
    assert out["failed"] and "nothing was captured to restore" in out["msg"]
    assert haproxy.full_state() == before


COLOURS = {"blue": ["app1"], "green": ["app2", "app3"]}
SERVERS = {"app1": "web1", "app2": "web2", "app3": "web3"}


def test_the_live_colour_is_read_from_haproxy(haproxy, module_runner):
    args = {"load_balancer": lb_description(haproxy), "colours": COLOURS, "servers": SERVERS}
    # all three ready on one release: adopted, blue stays live
    adopted = module_runner("blue_green_state", dict(args, releases={h: "v1" for h in SERVERS}))
    assert not adopted["failed"] and adopted["adopted"] and adopted["live"] == "blue"
    assert adopted["idle_servers"] == ["web2", "web3"]
    # on different releases: refused, nothing changed
    before = haproxy.full_state()
    refused = module_runner("blue_green_state", dict(args, releases={"app1": "v1", "app2": "v2", "app3": "v2"}))
    assert refused["failed"] and "different releases" in refused["msg"] and "nothing was changed" in refused["msg"]
    assert haproxy.full_state() == before
    # green drained by hand: blue is live, whatever any record says; up to date when blue runs the release
    haproxy.runtime.set_server_state("app", "web2", "drain")
    haproxy.runtime.set_weight("app", "web3", 0)
    live = module_runner("blue_green_state", dict(args, releases={h: "v1" for h in SERVERS}, release="v1"))
    assert live["live"] == "blue" and live["idle"] == "green" and not live["adopted"] and live["up_to_date"]
    for server in ("web1",):
        haproxy.runtime.set_server_state("app", server, "maint")
    none = module_runner("blue_green_state", dict(args, releases={h: "v1" for h in SERVERS}))
    assert none["failed"] and "neither colour is live" in none["msg"]


def _app1_switching(tmp_path, module_runner, description, servers):
    """A started ledger with app1 (server web1) recorded switching by a switch_traffic call that sets ``servers``."""
    started = module_runner(
        "deploy_ledger", dict(ledger_args(tmp_path), state="started", release="v2", load_balancer=description)
    )
    assert not started["failed"], started
    switching = module_runner(
        "switch_traffic",
        {
            "load_balancer": description,
            "servers": servers,
            "ledger": dict(
                ledger_args(tmp_path), hosts={"app1": {"server": "web1", "previous": "v1"}}, status="switching"
            ),
        },
    )
    assert not switching["failed"], switching
    return {"app": "shop", "path": str(tmp_path / "state")}


def test_restore_with_drain_moved_keeps_the_moved_hosts_out(tmp_path, haproxy, module_runner):
    """A failed canary's rescue: every server back to its captured weight, but the moved host's server drained
    (it was ready before the deploy and must not take traffic again while it runs the failing release)."""
    description = {"provider": "haproxy", "socket": [haproxy.socket], "backend": "app"}
    before = haproxy.runtime.servers("app")
    servers = {"web1": {"weight": 1, "state": "ready"}, "web2": {"weight": 9}, "web3": {"weight": 9}}
    restore = dict(_app1_switching(tmp_path, module_runner, description, servers), drain_moved=True)
    restored = module_runner("switch_traffic", {"load_balancer": description, "restore_ledger": restore})
    assert not restored["failed"], restored
    state = haproxy.runtime.servers("app")
    assert state[("app", "web1")]["state"] == "drain", "the moved host stays out"
    for name in ("web2", "web3"):  # back to their captured weights, in the pool
        assert (state[("app", name)]["state"], state[("app", name)]["weight"]) == (
            "ready",
            before[("app", name)]["weight"],
        )


def test_the_rollback_hold_never_puts_a_moved_host_back_into_the_pool(tmp_path, haproxy, module_runner):
    """A rollback's first step: the hosts that did not move back to their captured state, the moved host's server
    left as it is (drained mid-switch, captured ready: it takes traffic again only once its host is back)."""
    description = {"provider": "haproxy", "socket": [haproxy.socket], "backend": "app"}
    servers = {"web1": {"state": "drain"}, "web2": {"state": "drain"}}
    restore = dict(_app1_switching(tmp_path, module_runner, description, servers), hold=True)
    held = module_runner("switch_traffic", {"load_balancer": description, "restore_ledger": restore})
    assert not held["failed"], held
    state = haproxy.runtime.servers("app")
    assert state[("app", "web1")]["state"] == "drain", "the moved host's server stays out until its host is back"
    assert state[("app", "web2")]["state"] == "ready", "a host that did not move is back to its captured state"
    final = module_runner("switch_traffic", {"load_balancer": description, "restore_ledger": dict(restore, hold=False)})
    assert not final["failed"], final
    assert haproxy.runtime.servers("app")[("app", "web1")]["state"] == "ready", "the last step restores it"


# -- the lock and the ledger in one call (deploy_lock's ledger option) --------------------------------------------


def lock_args(tmp_path, **extra):
    return dict(dict(ledger_args(tmp_path), owner="alice", controller="ctl1", release="v2", ttl=600), **extra)


def test_the_lock_starts_the_ledger_and_finishes_it_in_the_same_calls(tmp_path, haproxy, module_runner):
    servers = {"app1": "web1", "app2": "web2"}
    start = lock_args(
        tmp_path,
        load_balancer=lb_description(haproxy, servers=servers),
        ledger={"plan": {"batches": 2}, "phase": "stage"},
    )
    checked = module_runner("deploy_lock", start, check=True)
    assert not checked["failed"] and checked["action"] == "create", checked
    assert checked["ledger"]["lb_state"][haproxy.socket]["web1"] == {"state": "ready", "weight": 10}
    assert not (tmp_path / "state").exists(), "check mode writes nothing"

    taken = module_runner("deploy_lock", start)
    assert not taken["failed"] and taken["held"] and taken["action"] == "create", taken
    ledger = read_ledger(tmp_path)
    assert ledger["run_id"] == "run-1" and ledger["release"] == "v2" and ledger["outcome"] == "running"
    assert ledger["lb_state"] == taken["ledger"]["lb_state"]
    assert ledger["lb_process"] == {haproxy.socket: {"pid": haproxy.proc.pid, "started": ANY_INT}}
    assert [p["name"] for p in ledger["phases"]] == ["stage"] and ledger["plan"] == {"batches": 2}
    assert module_runner("deploy_lock", start)["changed"] is False  # the same run again: nothing new

    finish = dict(ledger_args(tmp_path), state="released", ledger={"outcome": "completed"})
    released = module_runner("deploy_lock", finish)
    assert not released["failed"] and released["action"] == "release" and not released["held"], released
    assert not (tmp_path / "state" / "shop" / "deploy.lock").exists()
    assert read_ledger(tmp_path)["outcome"] == "unchanged"  # it moved no host
    assert released["summary"]["zerodown_outcome"] == "unchanged" and released["summary_lines"]


def test_a_load_balancer_that_fails_its_preflight_leaves_no_lock_and_no_ledger(tmp_path, haproxy, module_runner):
    missing = module_runner(
        "deploy_lock",
        lock_args(tmp_path, load_balancer=lb_description(haproxy, servers={"app9": "web9"}), ledger={"phase": "stage"}),
    )
    assert missing["failed"] and "load balancer preflight failed, nothing was changed" in missing["msg"], missing
    assert "'web9'" in missing["msg"]
    assert not (tmp_path / "state" / "shop" / "deploy.lock").exists()
    assert not (tmp_path / "state" / "shop" / "ledger.json").exists()


def test_a_refused_lock_does_not_touch_the_holders_ledger(tmp_path, haproxy, module_runner):
    description = lb_description(haproxy, servers={"app1": "web1"})
    assert not module_runner("deploy_lock", lock_args(tmp_path, load_balancer=description, ledger={}))["failed"]
    before = read_ledger(tmp_path)
    refused = module_runner(
        "deploy_lock", lock_args(tmp_path, run_id="run-2", owner="bob", load_balancer=description, ledger={})
    )
    assert refused["failed"] and "'alice'" in refused["msg"], refused
    assert read_ledger(tmp_path) == before


def test_a_ledger_that_cannot_be_finished_keeps_the_lock(tmp_path, module_runner):
    assert not module_runner("deploy_lock", lock_args(tmp_path))["failed"]
    # the lock was taken without a ledger: there is none of this run to finish
    out = module_runner("deploy_lock", dict(ledger_args(tmp_path), state="released", ledger={"outcome": "failed"}))
    assert out["failed"] and "the lock stays held by run run-1" in out["msg"], out
    assert (tmp_path / "state" / "shop" / "deploy.lock").exists()


def test_ledger_options_that_do_not_fit_the_state_are_named(tmp_path, haproxy, module_runner):
    cases = [
        (dict(state="query", ledger={}), "ledger is for state=acquired"),
        (dict(state="refreshed", ledger={}), "ledger is for state=acquired"),
        (dict(ledger={"outcome": "failed"}), "ledger.outcome is for state=released"),
        (dict(state="released", ledger={}), "ledger.outcome is required with state=released"),
        (dict(state="released", ledger={"outcome": "failed", "phase": "x"}), "ledger.phase is for state=acquired"),
        (dict(load_balancer=lb_description(haproxy)), "give ledger too"),
    ]
    for extra, message in cases:
        out = module_runner("deploy_lock", lock_args(tmp_path, **extra))
        assert out["failed"] and message in out["msg"], (extra, out)
    assert not (tmp_path / "state").exists()
