from __future__ import annotations

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._ledger import (
    Ledger,
    LedgerError,
    moved_hosts,
    phase_seconds,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._lock import StateDir


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


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
