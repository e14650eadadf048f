"""deploy_ledger through real Ansible against a state directory in tmp_path."""

from __future__ import annotations

import json
import stat

from zerodown_testkit.support.ansible_run import run_module

LB = {"/run/haproxy/admin.sock": {"app1": {"state": "ready", "weight": 1}, "app2": {"state": "ready", "weight": 1}}}


def _args(tmp_path, **kw):
    args = {"app": "shop", "path": str(tmp_path / "state"), "run_id": "run-1"}
    args.update(kw)
    return args


def _file(tmp_path):
    return tmp_path / "state" / "shop" / "ledger.json"


def test_start_check_real_again(tmp_path):
    start = _args(tmp_path, state="started", release="v2", lb_state=LB, hosts={"app1": {"previous": "v1"}})
    check = run_module("deploy_ledger", start, check=True, diff=True)
    assert check["changed"] and check["ledger"]["hosts"]["app1"]["previous"] == "v1"
    assert not _file(tmp_path).exists()
    real = run_module("deploy_ledger", start)
    assert real["changed"] and not real["failed"]
    data = json.loads(_file(tmp_path).read_text())
    assert data["lb_state"] == LB and data["release"] == "v2" and data["hosts"]["app1"]["previous"] == "v1"
    assert stat.S_IMODE(_file(tmp_path).stat().st_mode) == 0o600
    again = run_module("deploy_ledger", start)
    assert again["changed"] is False


def test_batches_are_readable_by_a_later_run_of_the_module(tmp_path):
    run_module("deploy_ledger", _args(tmp_path, state="started", release="v2", lb_state=LB))
    rec = _args(tmp_path, batch=1, phase="batch 1", hosts={"app1": {"previous": "v1", "status": "switching"}})
    check = run_module("deploy_ledger", rec, check=True)
    assert check["changed"] and json.loads(_file(tmp_path).read_text())["hosts"] == {}
    assert run_module("deploy_ledger", rec)["changed"]
    run_module("deploy_ledger", _args(tmp_path, batch=2, phase="batch 2", hosts={"app2": {"status": "switching"}}))
    query = run_module("deploy_ledger", {"app": "shop", "path": str(tmp_path / "state"), "state": "query"})
    assert query["moved_hosts"] == ["app1", "app2"] and query["changed"] is False
    assert query["phase_seconds"].keys() == {"batch 1"}
    fin = run_module(
        "deploy_ledger", _args(tmp_path, state="finished", outcome="rolled_back", cause="app2 never ready")
    )
    assert fin["ledger"]["outcome"] == "rolled_back" and fin["ledger"]["cause"] == "app2 never ready"
    assert set(fin["phase_seconds"]) == {"batch 1", "batch 2"}


def test_bad_input_fails_naming_it(tmp_path):
    run_module("deploy_ledger", _args(tmp_path, state="started"))
    bad = run_module("deploy_ledger", _args(tmp_path, hosts={"app1": {"status": "done"}}))
    assert bad["failed"] and "'done'" in bad["msg"]
    other = run_module("deploy_ledger", _args(tmp_path, run_id="run-0", phase="x"))
    assert other["failed"] and "run-1" in other["msg"]


def test_a_corrupt_ledger_is_named_and_left_as_it_is(tmp_path):
    run_module("deploy_ledger", _args(tmp_path, state="started", release="v2", lb_state=LB))
    data = json.loads(_file(tmp_path).read_text())
    for damage, problem in (
        (b'{"run_id": ', "is not valid JSON"),
        (b"[]", "holds a list, expected a JSON object"),
        (json.dumps(dict(data, hosts=[])).encode(), "field hosts is a list, expected a JSON object"),
        (json.dumps(dict(data, batches=[{"batch": "1", "hosts": []}])).encode(), "field batches[0].batch is a string"),
        (json.dumps({k: v for k, v in data.items() if k != "run_id"}).encode(), "field run_id is missing"),
    ):
        _file(tmp_path).write_bytes(damage)
        for args in (
            {"app": "shop", "path": str(tmp_path / "state"), "state": "query"},
            _args(tmp_path, phase="batch 1", hosts={"app1": {"status": "switching"}}),
            _args(tmp_path, state="finished", outcome="rolled_back"),
        ):
            out = run_module("deploy_ledger", args)
            assert out["failed"] and not out["changed"], out
            assert str(_file(tmp_path)) in out["msg"] and problem in out["msg"], out["msg"]
            assert "move it aside" in out["msg"] and "writable" not in out["msg"]
            assert _file(tmp_path).read_bytes() == damage


def test_a_new_phase_refreshes_the_deploy_lock_of_the_run_in_the_same_call(tmp_path):
    """The phase records of deploy.yml keep the lock: each pushes its expiry to now + its TTL (audited)."""
    lock_args = {"app": "shop", "path": str(tmp_path / "state"), "run_id": "run-1", "owner": "ops", "ttl": 60}
    taken = run_module("deploy_lock", lock_args)
    assert not taken["failed"], taken
    lock_file = tmp_path / "state" / "shop" / "deploy.lock"
    before = json.loads(lock_file.read_text())
    run_module("deploy_ledger", _args(tmp_path, state="started", release="v2", lb_state=LB))
    check = run_module("deploy_ledger", _args(tmp_path, phase="stage"), check=True)
    assert "lock_expires_at" not in check and json.loads(lock_file.read_text()) == before
    recorded = run_module("deploy_ledger", _args(tmp_path, phase="stage"))
    assert not recorded["failed"], recorded
    after = json.loads(lock_file.read_text())
    assert after["run_id"] == "run-1" and after["expires_epoch"] > before["expires_epoch"]
    assert recorded["lock_expires_at"] == after["expires_at"] and after["refreshed_at"]
    audit = (tmp_path / "state" / "shop" / "audit.log").read_text().splitlines()
    assert json.loads(audit[-1])["event"] == "refresh"
