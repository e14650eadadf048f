from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.zerodown.deploy.plugins.module_utils import _ledger as ledger_mod
from ansible_collections.zerodown.deploy.plugins.module_utils._ledger import (
    Ledger,
    LedgerError,
    host_entries,
    moved_hosts,
    phase_seconds,
    rollback_plan,
    summary,
    summary_lines,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._lock import DeployLock, LockHeld, StateDir
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure


@pytest.fixture
def ledger(tmp_path, clock):
    return Ledger(StateDir(str(tmp_path), "shop"), clock=clock)


LB = {"app1": {"state": "ready", "weight": 1}, "app2": {"state": "ready", "weight": 1}}


def test_start_is_idempotent_per_run_and_keeps_the_last_ledger(ledger, tmp_path):
    assert ledger.start("run-1", "v2", LB)["changed"] is True
    assert ledger.start("run-1", "v2", LB)["changed"] is False
    assert ledger.start("run-2", "v3", LB)["changed"] is True
    assert ledger.read()["run_id"] == "run-2"
    assert (tmp_path / "shop" / "ledger.previous.json").exists()


def test_previous_release_is_never_overwritten(ledger):
    ledger.start("run-1", "v2", LB)
    ledger.update("run-1", hosts={"app1": {"previous": "v1", "status": "staged"}})
    ledger.update("run-1", hosts={"app1": {"previous": "v2", "current": "v2", "status": "switching"}}, batch=1)
    entry = ledger.read()["hosts"]["app1"]
    assert entry["previous"] == "v1" and entry["current"] == "v2" and entry["status"] == "switching"


def test_same_record_twice_is_no_change(ledger):
    ledger.start("run-1", "v2", LB)
    ledger.update("run-1", hosts={"app1": {"previous": "v1"}})
    assert ledger.update("run-1", hosts={"app1": {"previous": "v1"}})["changed"] is False


def test_moved_hosts_span_every_batch(ledger):
    ledger.start("run-1", "v2", LB)
    ledger.update("run-1", hosts={"app1": {"previous": "v1"}, "app2": {"previous": "v1"}})
    ledger.update("run-1", hosts={"app1": {"status": "switching"}}, batch=1)
    ledger.update("run-1", hosts={"app2": {"status": "switching"}}, batch=2)
    data = ledger.read()
    assert moved_hosts(data) == ["app1", "app2"]
    assert [b["batch"] for b in data["batches"]] == [1, 2]
    ledger.update("run-1", hosts={"app1": {"status": "rolled_back"}})
    assert moved_hosts(ledger.read()) == ["app2"]


def test_phase_timeline_and_outcome(ledger, clock):
    ledger.start("run-1", "v2", LB)
    ledger.update("run-1", phase="preflight")
    clock.now += 2
    ledger.update("run-1", phase="batch 1")
    clock.now += 5
    ledger.update("run-1", phase="smoke")
    clock.now += 1
    out = ledger.update("run-1", outcome="succeeded")
    assert phase_seconds(out["ledger"]) == {"preflight": 2.0, "batch 1": 5.0, "smoke": 1.0}
    assert out["ledger"]["duration"] == 8.0 and out["ledger"]["finished_at"]


def test_lb_state_and_cause_first_value_wins(ledger):
    ledger.start("run-1", "v2", LB)
    ledger.update("run-1", lb_state={"other": 1}, cause="probe failed on app4")
    ledger.update("run-1", cause="later noise")
    data = ledger.read()
    assert data["lb_state"] == LB and data["cause"] == "probe failed on app4"


def test_errors_name_the_problem(ledger):
    with pytest.raises(LedgerError, match="start one"):
        ledger.update("run-1", phase="x")
    ledger.start("run-1", "v2", LB)
    with pytest.raises(LedgerError, match="belongs to run 'run-1'"):
        ledger.update("run-0", phase="x")
    with pytest.raises(LedgerError, match="unknown fields"):
        ledger.update("run-1", hosts={"app1": {"bogus": 1}})
    with pytest.raises(LedgerError, match="status 'done'"):
        ledger.update("run-1", hosts={"app1": {"status": "done"}})


def test_check_mode_writes_nothing(ledger, tmp_path):
    out = ledger.start("run-1", "v2", LB, check=True)
    assert out["changed"] and not (tmp_path / "shop" / "ledger.json").exists()


def test_a_no_op_run_puts_the_last_real_ledger_back(ledger):
    ledger.start("run-1", "v2", LB)
    ledger.update("run-1", hosts={"app1": {"previous": "v1", "status": "moved"}}, outcome="succeeded")
    ledger.start("run-2", "v2", LB)
    ledger.update("run-2", hosts={"app1": {"previous": "v2", "status": "unchanged"}})
    out = ledger.update("run-2", outcome="unchanged")
    assert out["changed"] and ledger.read()["run_id"] == "run-1"
    assert moved_hosts(ledger.read()) == ["app1"]


# -- host maps, rollback plan and summary: built here, never in a playbook -------------------------


def test_host_entries_from_names_release_states_or_a_map():
    servers = {"app1": "web1", "app2": "web2"}
    assert host_entries(["app1", "app2"], status="moved", current="v2", servers=servers, batch=3) == {
        "app1": {"status": "moved", "current": "v2", "batch": 3, "server": "web1"},
        "app2": {"status": "moved", "current": "v2", "batch": 3, "server": "web2"},
    }
    states = [
        {"host": "app1", "previous": "v1", "release": "v2", "needs_switch": True},
        {"host": "app2", "previous": None},
    ]
    assert host_entries(states, status="switching") == {
        "app1": {"previous": "v1", "status": "switching"},
        "app2": {"previous": None, "status": "switching"},
    }
    # a field the caller sets itself is kept
    assert host_entries({"app1": {"status": "removed"}}, status="rolled_back") == {"app1": {"status": "removed"}}
    assert host_entries(None) == {}


@pytest.mark.parametrize("bad", ["app1", [42], [{"previous": "v1"}], {"app1": "moved"}])
def test_host_entries_refuse_what_they_cannot_read(bad):
    with pytest.raises(LedgerError):
        host_entries(bad)


def test_rollback_plan_is_the_last_batch_first_and_keeps_first_releases_out():
    ledger = {
        "run_id": "r1",
        "release": "v2",
        "lb_state": {"/run/haproxy/admin.sock": {s: {"state": "ready", "weight": 1} for s in ("w1", "w2", "w3", "w4")}},
        "hosts": {
            "app1": {"previous": "v1", "server": "w1", "status": "moved", "batch": 1},
            "app2": {"previous": "v1", "server": "w2", "status": "moved", "batch": 2},
            "app3": {"previous": None, "server": "w3", "status": "switching", "batch": 2},
            "app4": {"previous": "v1", "server": "w4", "status": "unchanged", "batch": 3},
        },
    }
    out = rollback_plan(ledger)
    assert [b["hosts"] for b in out["batches"]] == [["app2", "app3"], ["app1"]]
    assert out["batches"][0]["ready"] == ["w2"] and out["batches"][0]["maint"] == ["w3"]
    assert out["batches"][0]["record"] == {
        "app2": {"status": "rolled_back", "current": "v1"},
        "app3": {"status": "removed", "current": None},
    }
    assert out["hosts"]["app3"] == {"to": None, "server": "w3"}
    assert set(out["restore"]["/run/haproxy/admin.sock"]) == {"w1", "w2", "w4"}
    assert out["hold"] == {"/run/haproxy/admin.sock": {"w4": {"state": "ready", "weight": 1}}}
    assert rollback_plan({"hosts": {}}) == {"hold": {}, "batches": [], "hosts": {}, "restore": {}}


def test_an_adopted_colour_takes_traffic_again_only_after_its_hosts_are_back():
    """Blue-green on a fleet both colours served (adopted): green was live before the deploy and got v2. The
    rollback's first step puts blue back and takes green out; green's servers come back in their own batch, once
    its hosts answer ready on v1 - never in the first step (which dropped requests when it restored green while its
    hosts were being returned). A colour that was the standby (captured drain) stays out until the last step."""
    lb_state = {s: {"state": "ready", "weight": 1} for s in ("b1", "b2", "g1", "g2")}
    ledger = {
        "lb_state": {"lb1": lb_state, "lb2": dict(lb_state, g2={"state": "drain", "weight": 1})},
        "hosts": {
            "app3": {"previous": "v1", "server": "g1", "status": "moved", "batch": 1},
            "app4": {"previous": "v1", "server": "g2", "status": "moved", "batch": 1},
        },
    }
    out = rollback_plan(ledger, drain_moved=True)
    assert out["hold"]["lb1"] == {
        "b1": {"state": "ready", "weight": 1},
        "b2": {"state": "ready", "weight": 1},
        "g1": {"state": "drain", "weight": 1},
        "g2": {"state": "drain", "weight": 1},
    }
    assert out["batches"] == [
        {
            "batch": 1,
            "hosts": ["app3", "app4"],
            "servers": ["g1", "g2"],
            "ready": ["g1", "g2"],
            "maint": [],
            "record": {
                "app3": {"status": "rolled_back", "current": "v1"},
                "app4": {"status": "rolled_back", "current": "v1"},
            },
        }
    ]
    # without drain_moved (rolling keeps its capacity) the moved servers are left as they are
    assert rollback_plan(ledger)["hold"]["lb1"] == {"b1": lb_state["b1"], "b2": lb_state["b2"]}
    # green was the standby everywhere: back on v1 it stays drained until the last step restores drain
    standby = {"lb1": dict(lb_state, g1={"state": "drain", "weight": 1}, g2={"state": "drain", "weight": 1})}
    assert rollback_plan(dict(ledger, lb_state=standby), drain_moved=True)["batches"][0]["ready"] == []


def _simulate(ledger, during, drain_moved):
    """Apply a rollback plan's steps in their order to the load-balancer states ``during`` the deploy
    ({lb: {server: {state, weight}}}); yield (step, states, returned hosts) after each change."""
    plan = rollback_plan(ledger, drain_moved)
    states = {lb_id: {s: dict(v) for s, v in servers.items()} for lb_id, servers in during.items()}
    returned = set()
    for lb_id, servers in plan["hold"].items():
        states[lb_id].update({s: dict(v) for s, v in servers.items()})
    yield "hold", states, returned
    for batch in plan["batches"]:
        for servers in states.values():
            for server in batch["servers"]:
                servers[server]["state"] = "drain"
        yield "drain", states, returned
        returned |= set(batch["hosts"])
        for servers in states.values():
            for server in batch["ready"]:
                servers[server]["state"] = "ready"
            for server in batch["maint"]:
                servers[server]["state"] = "maint"
        yield "batch", states, returned
    for lb_id, servers in plan["restore"].items():
        states[lb_id].update({s: dict(v) for s, v in servers.items()})
    yield "restore", states, returned


@settings(max_examples=300, deadline=None)
@given(data=st.data(), drain_moved=st.booleans())
def test_no_server_takes_traffic_before_its_host_is_back(data, drain_moved):
    """Whatever the captured states, the states during the deploy, the batches and the statuses: a moved host's
    server that takes traffic at any step of the rollback is one that took it during the deploy already (the plan
    never gives it more) or whose host is back; at the end every load balancer is as captured, less the removed."""
    servers = ["s%d" % i for i in range(data.draw(st.integers(1, 6)))]
    state = st.fixed_dictionaries({"state": st.sampled_from(["ready", "drain", "maint"]), "weight": st.integers(0, 3)})
    lbs = data.draw(st.lists(st.sampled_from(["lb1", "lb2"]), min_size=1, max_size=2, unique=True))
    captured = {lb_id: {s: data.draw(state) for s in servers} for lb_id in lbs}
    during = {lb_id: {s: data.draw(state) for s in servers} for lb_id in lbs}
    hosts = {}
    for index, server in enumerate(servers):
        status = data.draw(st.sampled_from(["unchanged", "staged", "switching", "moved", "failed", "unreachable"]))
        previous = data.draw(st.sampled_from(["v1", None]))
        hosts["app%d" % index] = {"previous": previous, "server": server, "status": status, "batch": 1 + index % 3}
    ledger = {"lb_state": captured, "hosts": hosts}
    moved = {hosts[h]["server"]: h for h in moved_hosts(ledger)}

    def serving(info):
        return info["state"] == "ready" and info["weight"] > 0

    for step, states, returned in _simulate(ledger, during, drain_moved):
        for lb_id, current in states.items():
            for server, info in current.items():
                if server in moved and moved[server] not in returned and serving(info):
                    # still serving the release it served during the deploy, never put back into rotation
                    assert info == during[lb_id][server], (step, lb_id, server, ledger, during)
    removed = {
        hosts[h]["server"] for h in moved.values() if not hosts[h]["previous"] or hosts[h]["status"] == "unreachable"
    }
    for lb_id in lbs:
        for server in servers:
            if server not in removed:
                assert states[lb_id][server] == captured[lb_id][server]


def test_summary_for_awx_and_for_a_person():
    ledger = {
        "run_id": "r1",
        "release": "v2",
        "outcome": "rolled_back",
        "cause": "app3: not ready",
        "duration": 12.5,
        "hosts": {"app1": {"current": "v1"}, "app2": {"current": None}},
        "phases": [{"name": "stage", "started_epoch": 1.0, "ended_epoch": 3.0}],
    }
    data = summary(ledger)
    assert data["zerodown_outcome"] == "rolled_back" and data["zerodown_hosts"] == {"app1": "v1", "app2": None}
    assert data["zerodown_phase_seconds"] == {"stage": 2.0}
    lines = summary_lines(ledger)
    assert lines[0].startswith("outcome: rolled_back in 12.5 s") and lines[-1] == "cause: app3: not ready"
    assert "app2=-" in lines[2]


def test_a_run_that_changed_no_host_gives_the_last_real_deploys_ledger_back(tmp_path, clock):
    ledger = Ledger(StateDir(str(tmp_path), "shop"), clock=clock)
    ledger.start("real", "v2", {"lb": {"s1": {"state": "ready", "weight": 1}}})
    ledger.update("real", hosts={"app1": {"previous": "v1", "status": "moved"}})
    ledger.update("real", outcome="succeeded")
    ledger.start("refused", "v3", {"lb": {"s1": {"state": "drain", "weight": 1}}})
    ledger.update("refused", cause="both colours live", outcome="rolled_back")
    assert ledger.read()["run_id"] == "real"
    noop = Ledger(StateDir(str(tmp_path), "shop")).read("ledger.last-noop.json")
    assert noop["run_id"] == "refused" and noop["cause"] == "both colours live"
    # a run that moved a host, even if it then rolled back, stays the ledger
    ledger.start("moved", "v4", {"lb": {}})
    ledger.update("moved", hosts={"app1": {"previous": "v2", "status": "rolled_back"}}, outcome="rolled_back")
    assert ledger.read()["run_id"] == "moved"


def test_captured_restore_drains_the_moved_hosts_only_where_others_serve(tmp_path):
    from ansible_collections.zerodown.deploy.plugins.module_utils._ledger import captured_restore

    ledger = Ledger(StateDir(str(tmp_path), "shop"))
    captured = {s: {"state": "ready", "weight": 1} for s in ("w1", "w2", "w3")}
    ledger.start("r1", "v2", {"lb1": dict(captured)})
    ledger.update("r1", hosts={"app1": {"previous": "v1", "server": "w1", "status": "switching"}})
    restore = captured_restore(str(tmp_path), "shop", drain_moved=True)["lb1"]
    assert restore["w1"]["state"] == "drain" and restore["w2"] == restore["w3"] == {"state": "ready", "weight": 1}
    # after a promotion every host moved: draining them all would leave nothing serving, and giving one its captured
    # state could put a half-switched host back in the pool: they are left as they are, for the batches
    ledger.update(
        "r1", hosts={h: {"previous": "v1", "server": s, "status": "moved"} for h, s in (("app2", "w2"), ("app3", "w3"))}
    )
    assert captured_restore(str(tmp_path), "shop", drain_moved=True) == {"lb1": {}}
    assert captured_restore(str(tmp_path), "shop")["lb1"] == captured, "the last step: everything as captured"


def test_a_drain_that_cut_sessions_is_recorded_and_summarised(tmp_path):
    params = {"app": "shop", "path": str(tmp_path), "run_id": "r1", "hosts": ["app1"], "status": "switching"}
    drained = {"killed_sessions": 3, "drain_seconds": 5.01, "timed_out": True}
    record = ledger_mod.cut_sessions_record(params, ["web1"], drained)
    assert record == {
        "app": "shop",
        "path": str(tmp_path),
        "run_id": "r1",
        "step": {"name": "drain", "servers": ["web1"], "killed_sessions": 3, "drain_seconds": 5.01, "timed_out": True},
    }
    assert ledger_mod.cut_sessions_record(None, ["web1"], drained) is None
    ledger = {
        "run_id": "r1",
        "outcome": "succeeded",
        "hosts": {},
        "phases": [],
        "steps": [record["step"], {"name": "x"}],
    }
    assert summary(ledger)["zerodown_sessions_cut"] == 3
    assert "drain timeout: cut 3 session(s) still running (web1: 3)" in summary_lines(ledger)
    assert not any(line.startswith("drain timeout") for line in summary_lines(dict(ledger, steps=[])))


def test_a_drain_that_gave_up_takes_back_its_switching():
    params = {"app": "shop", "path": "/s", "run_id": "r1", "hosts": ["app1"], "status": "switching", "batch": 2}
    assert ledger_mod.not_moved_record(params) == {
        "app": "shop",
        "path": "/s",
        "run_id": "r1",
        "hosts": ["app1"],
        "servers": None,
        "status": "unchanged",
    }
    assert ledger_mod.not_moved_record(dict(params, status="moved")) is None
    assert ledger_mod.not_moved_record(None) is None


def test_only_forward_steps_compare_the_load_balancer_process(tmp_path):
    book = Ledger(StateDir(str(tmp_path), "shop"))
    book.start("r1", "v2", {"lb": {}}, lb_process={"lb": {"pid": 10, "started": 5}})
    forward = {"app": "shop", "path": str(tmp_path), "run_id": "r1", "status": "switching"}
    assert ledger_mod.recorded_processes(forward) == {"lb": {"pid": 10, "started": 5}}
    assert ledger_mod.recorded_processes(dict(forward, status="moved")) == {"lb": {"pid": 10, "started": 5}}
    assert ledger_mod.recorded_processes(dict(forward, status="rolled_back")) == {}
    assert ledger_mod.recorded_processes(dict(forward, status=None)) == {}, "a rollback's record has no status"
    assert ledger_mod.recorded_processes(dict(forward, run_id="other")) == {}
    assert ledger_mod.recorded_processes(dict(forward, app="none")) == {}
    assert ledger_mod.recorded_processes(None) == {}


def test_an_unreachable_host_is_reported_kept_out_of_the_pool_and_retried_later(tmp_path):
    book = Ledger(StateDir(str(tmp_path), "shop"))
    lb_state = {"lb": {"web1": {"state": "ready", "weight": 1}, "web2": {"state": "ready", "weight": 1}}}
    book.start("r1", "v2", lb_state)
    book.update("r1", hosts={"app1": {"previous": "v1", "server": "web1", "status": "moved", "batch": 1}})
    book.update("r1", hosts={"app2": {"previous": "v1", "server": "web2", "status": "switching", "batch": 2}})
    params = {"app": "shop", "path": str(tmp_path), "run_id": "r1"}
    ledger_mod.record(dict(params, hosts={"app2": {"status": "rolled_back", "current": "v1"}}, unreachable=["app2"]))
    data = book.read()
    assert data["hosts"]["app2"]["status"] == "unreachable" and data["hosts"]["app2"].get("current") is None
    assert "app2" in moved_hosts(data), "a later rollback retries it"
    plan = rollback_plan(data)
    assert "web2" not in plan["restore"]["lb"] and plan["restore"]["lb"]["web1"]["state"] == "ready"
    assert summary(data)["zerodown_hosts"]["app2"] == "unknown (unreachable)"
    assert any(line.startswith("unreachable: app2 - left out of the pool (maint)") for line in summary_lines(data))


# -- a new phase refreshes the lock the run holds --------------------------------------------------------------


def test_each_new_phase_refreshes_the_lock_this_run_holds(ledger, clock):
    lock = DeployLock(ledger.dir, clock=clock)
    lock.acquire("ops", "run-1", release="v2", ttl=600)
    ledger.start("run-1", "v2", LB)
    for phase in ("stage", "batch 1", "batch 2", "smoke"):
        clock.now += 500  # each phase takes most of the TTL: the deploy as a whole far outlasts it
        out = ledger.update("run-1", phase=phase)
        assert lock.read()["expires_epoch"] == clock.now + 600 and out["lock"]["run_id"] == "run-1"
        assert ledger_mod.report(out)["lock_expires_at"] == out["lock"]["expires_at"]
    assert not lock.is_expired(lock.read())
    # the lock stayed this run's: another run is refused all along
    with pytest.raises(LockHeld):
        lock.acquire("eve", "run-2", release="v3", ttl=600)
    assert [e["event"] for e in ledger.dir.audit_entries()].count("refresh") == 4


def test_a_record_without_phase_a_check_run_or_another_runs_lock_refresh_nothing(ledger, clock):
    lock = DeployLock(ledger.dir, clock=clock)
    lock.acquire("ops", "run-1", release="v2", ttl=600)
    ledger.start("run-1", "v2", LB)
    before = lock.read()
    clock.now += 100
    ledger.update("run-1", hosts={"app1": {"previous": "v1"}})
    assert ledger.update("run-1", phase="x", check=True).get("lock") is None
    assert lock.read() == before
    # a standalone rollback holds its own lock while recording on the ledger of the run it rolls back
    lock.release("run-1")
    lock.acquire("ops", "rollback-1", release="rollback", ttl=900)
    held = lock.read()
    assert "lock" not in ledger.update("run-1", phase="rollback")
    assert lock.read() == held


def test_a_run_whose_lock_was_taken_over_is_stopped_by_its_next_phase(ledger, clock):
    lock = DeployLock(ledger.dir, clock=clock)
    lock.acquire("ops", "run-1", release="v2", ttl=600)
    ledger.start("run-1", "v2", LB)
    clock.now += 601  # no phase for longer than the TTL: the lock expired
    lock.acquire("eve", "run-2", release="v3", ttl=600)
    ledger.start("run-2", "v3", LB)
    with pytest.raises(LedgerError, match="belongs to run 'run-2', not 'run-1'"):
        ledger.update("run-1", phase="batch 2")
    assert lock.read()["run_id"] == "run-2"


# -- the deploy_ledger module's engine (_ledger.run), without AnsibleModule ----------------------


def ledger_params(tmp_path, **options):
    params = dict(
        app="shop",
        state="recorded",
        run_id="run-1",
        release=None,
        lb_state=None,
        load_balancer=None,
        hosts=None,
        status=None,
        current=None,
        servers=None,
        batch=None,
        phase=None,
        outcome=None,
        cause=None,
        plan=None,
        path=str(tmp_path),
    )
    params.update(options)
    return params


def test_run_starts_records_reads_and_finishes_a_ledger(tmp_path):
    captured = {"lb1": {"web1": {"state": "ready", "weight": 1}}}
    started = ledger_mod.run(ledger_params(tmp_path, state="started", release="v2", lb_state=captured), False)
    assert started["changed"] and started["ledger"]["release"] == "v2" and started["ledger"]["lb_state"] == captured
    assert started["diff"]["before"] == {} and started["diff"]["after"] == started["ledger"]

    hosts = [{"host": "app1", "previous": "v1"}]
    recorded = ledger_mod.run(
        ledger_params(tmp_path, hosts=hosts, status="moved", current="v2", batch=1, servers={"app1": "web1"}), False
    )
    assert recorded["ledger"]["hosts"]["app1"]["server"] == "web1" and recorded["moved_hosts"] == ["app1"]

    query = ledger_mod.run(ledger_params(tmp_path, state="query", run_id=None), False)
    assert query["changed"] is False and query["moved_hosts"] == ["app1"]
    assert query["rollback"]["batches"][0]["hosts"] == ["app1"]
    assert set(query) == {
        "changed",
        "ledger",
        "moved_hosts",
        "phase_seconds",
        "rollback",
    }

    finished = ledger_mod.run(ledger_params(tmp_path, state="finished", outcome="completed"), True)
    assert finished["changed"] and finished["ledger"]["outcome"] == "succeeded"  # completed, a host moved
    assert ledger_mod.run(ledger_params(tmp_path, state="query", run_id=None), False)["ledger"]["outcome"] == "running"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"app": "../x"}, "app"),
        ({"hosts": 5}, "hosts must be a list of host names or a dict of host -> fields, got 5"),
        (
            {"load_balancer": {"socket": "/x"}},
            "load_balancer is read with state=started only (the state before the first change)",
        ),
        ({}, "no ledger for app 'shop'; start one with state: started first"),
    ],
)
def test_run_failures_name_the_problem(tmp_path, options, message):
    with pytest.raises(ModuleFailure) as exc:
        ledger_mod.run(ledger_params(tmp_path, **options), False)
    assert message in exc.value.msg and exc.value.result == {}


def test_run_query_reports_why_there_is_no_rollback(tmp_path):
    ledger_mod.run(ledger_params(tmp_path, state="started", lb_state=LB, hosts=["app1"], status="moved"), False)
    query = ledger_mod.run(ledger_params(tmp_path, state="query", run_id=None), False)
    assert query["rollback"] == {
        "error": "the ledger's lb_state['app1'] is not {server: {state, weight}}: it was not captured by "
        "deploy_ledger state=started with load_balancer (or switch_traffic's previous)"
    }


# -- the failed requests the load balancer counted (the deploy's tally step) --

TALLY_TOTAL = {
    "requests": 12345,
    "failed": 7,
    "http_5xx": 5,
    "connection_errors": 1,
    "response_errors": 1,
    "retries": 2,
    "redispatches": 1,
}


def tallied(outcome="succeeded", strategy_steps=(), **step):
    tally = dict(
        {"name": "tally", "measured": True, "reason": None, "total": TALLY_TOTAL, "seconds": 71.5},
        servers={"web1": dict(TALLY_TOTAL, requests=6000), "web2": dict(TALLY_TOTAL, requests=6345, failed=0)},
    )
    tally.update(step)
    return {
        "run_id": "r1",
        "release": "v2",
        "outcome": outcome,
        "hosts": {"app1": {"current": "v2"}},
        "phases": [],
        "steps": list(strategy_steps) + [tally],
    }


@pytest.mark.parametrize(
    "strategy_steps",
    [
        (),  # rolling, blue-green without a bake window
        ({"name": "bake", "verdict": "pass", "looks": 5, "servers": {"web1": {"requests": 10}}},),  # with a bake
        ({"name": "10%", "percent": 10, "verdict": "pass"}, {"name": "100%", "percent": 100, "verdict": "pass"}),
    ],
    ids=["rolling-or-blue-green", "bake", "canary"],
)
@pytest.mark.parametrize("outcome", ["succeeded", "rolled_back"])
def test_summary_states_the_load_balancers_count_of_failed_requests(strategy_steps, outcome):
    ledger = tallied(outcome, strategy_steps)
    data = summary(ledger)["zerodown_failed_requests"]
    assert data == {
        "measured": True,
        "reason": None,
        "count": 7,
        "requests": 12345,
        "http_5xx": 5,
        "connection_errors": 1,
        "response_errors": 1,
        "retries": 2,
        "redispatches": 1,
        "servers": ledger["steps"][-1]["servers"],
        "seconds": 71.5,
    }
    assert (
        "failed requests (load balancer's count): 7 of 12345 (5xx 5, connection errors 1, response errors 1, "
        "retries 2, redispatches 1)"
    ) in summary_lines(ledger)


def test_summary_of_a_tally_that_could_not_count_gives_its_reason():
    ledger = tallied(measured=False, reason="HAProxy at lb1 was reloaded", total=None, servers={})
    data = summary(ledger)["zerodown_failed_requests"]
    assert data["measured"] is False and data["count"] is None and data["servers"] == {}
    assert data["reason"] == "HAProxy at lb1 was reloaded"
    assert "failed requests (load balancer's count): not measured: HAProxy at lb1 was reloaded" in summary_lines(ledger)


def test_summary_without_a_tally_says_the_run_did_not_count():
    ledger = dict(tallied(), steps=[])
    data = summary(ledger)["zerodown_failed_requests"]
    assert data["measured"] is False and data["reason"] == ledger_mod.NOT_TALLIED
    assert "failed requests (load balancer's count): not measured: %s" % ledger_mod.NOT_TALLIED in summary_lines(ledger)


def test_the_tally_step_is_recorded_like_any_step(ledger):
    ledger.start("run-1", "v2", LB)
    step = tallied()["steps"][-1]
    ledger.update("run-1", step=step)
    assert summary(ledger.read())["zerodown_failed_requests"]["count"] == 7
