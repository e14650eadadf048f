from __future__ import annotations

import pytest

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
    assert out["settle"] == [], "every moved server was captured ready: nothing goes back to drain"
    assert rollback_plan({"hosts": {}}) == {"batches": [], "hosts": {}, "restore": {}, "settle": []}


def test_rollback_plan_settles_only_the_servers_the_restore_drains_again():
    """Blue-green: green was the standby (drain) before the switch, so after the restore its requests finish;
    a colour adopted while live (captured ready) just serves on."""
    lb_state = {"w1": {"state": "drain", "weight": 1}, "w2": {"state": "ready", "weight": 1}}
    ledger = {
        "lb_state": {"lb1": lb_state, "lb2": dict(lb_state, w1={"state": "ready", "weight": 1})},
        "hosts": {
            "app1": {"previous": "v1", "server": "w1", "status": "moved", "batch": 1},
            "app2": {"previous": "v1", "server": "w2", "status": "switching", "batch": 1},
        },
    }
    assert rollback_plan(ledger)["settle"] == ["w1"]


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
    # after a promotion every host moved: draining them all would leave nothing serving
    ledger.update(
        "r1", hosts={h: {"previous": "v1", "server": s, "status": "moved"} for h, s in (("app2", "w2"), ("app3", "w3"))}
    )
    restore = captured_restore(str(tmp_path), "shop", drain_moved=True)["lb1"]
    assert all(info["state"] == "ready" for info in restore.values()), restore


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
