from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils import _deploy_lock
from ansible_collections.zerodown.deploy.plugins.module_utils._lock import (
    DeployLock,
    LockHeld,
    NotOwner,
    StateDir,
    validate_app,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure


@pytest.fixture
def lock(tmp_path, clock):
    return DeployLock(StateDir(str(tmp_path / "state"), "shop"), clock=clock)


def test_acquire_creates_private_lock_with_holder_details(lock, tmp_path):
    out = lock.acquire("alice", "run-1", release="v2", ttl=60, controller="ctl1")
    assert out["changed"] and out["action"] == "create"
    path = tmp_path / "state" / "shop" / "deploy.lock"
    data = json.loads(path.read_text())
    assert data["owner"] == "alice" and data["release"] == "v2" and data["run_id"] == "run-1"
    assert data["controller"] == "ctl1" and data["ttl"] == 60 and data["pid"] == os.getpid()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state" / "shop").stat().st_mode) == 0o700
    assert [e["event"] for e in lock.dir.audit_entries()] == ["acquire"]


def test_same_run_reacquiring_changes_nothing(lock):
    lock.acquire("alice", "run-1", ttl=60)
    again = lock.acquire("alice", "run-1", ttl=60)
    assert again["changed"] is False and again["action"] == "none"


def test_second_run_is_refused_naming_the_holder(lock, clock):
    lock.acquire("alice", "run-1", release="v2", ttl=600, controller="ctl1")
    clock.now += 42
    with pytest.raises(LockHeld) as err:
        lock.acquire("bob", "run-2", release="v3")
    msg = str(err.value)
    assert "'alice'" in msg and "'v2'" in msg and "age 42s" in msg and "expires in 558s" in msg and "ctl1" in msg
    assert err.value.holder["run_id"] == "run-1"


def test_expired_lock_is_taken_over_and_logged(lock, clock):
    lock.acquire("alice", "run-1", release="v2", ttl=60)
    clock.now += 61
    out = lock.acquire("bob", "run-2", release="v3", ttl=60)
    assert out["action"] == "takeover" and out["previous_holder"]["owner"] == "alice"
    assert lock.read()["owner"] == "bob"
    entry = lock.dir.audit_entries()[-1]
    assert entry["event"] == "takeover"
    assert entry["by"]["owner"] == "bob" and entry["previous"]["owner"] == "alice"


def test_force_breaks_a_live_lock_and_audits_it(lock):
    lock.acquire("alice", "run-1", ttl=600)
    out = lock.acquire("bob", "run-2", ttl=600, force=True)
    assert out["action"] == "force_break"
    entry = lock.dir.audit_entries()[-1]
    assert entry["event"] == "force_break" and entry["previous"]["run_id"] == "run-1"


def test_release_by_owner_is_idempotent(lock):
    lock.acquire("alice", "run-1", ttl=600)
    assert lock.release("run-1")["changed"] is True
    assert lock.read() is None
    assert lock.release("run-1")["changed"] is False


def test_release_by_another_run_is_refused_unless_forced(lock):
    lock.acquire("alice", "run-1", ttl=600)
    with pytest.raises(NotOwner, match="alice"):
        lock.release("run-2", owner="bob")
    assert lock.read()["run_id"] == "run-1"
    out = lock.release("run-2", owner="bob", force=True)
    assert out["action"] == "force_break"
    assert lock.read() is None
    assert lock.dir.audit_entries()[-1]["event"] == "force_break"


def test_plan_does_not_write(lock, tmp_path):
    assert lock.plan_acquire("run-1", False)["action"] == "create"
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("bad", ["", "../etc", "a/b", ".", "x" * 65, "a b", "-x", "app\n", "app\x00", "app\r"])
def test_bad_app_names_are_rejected(bad):
    with pytest.raises(ValueError, match="invalid app"):
        validate_app(bad)


def test_relative_root_is_rejected():
    with pytest.raises(ValueError, match="absolute"):
        StateDir("var/lib", "shop")


def test_a_process_is_known_by_its_pid_and_start_time():
    import os
    import subprocess

    from ansible_collections.zerodown.deploy.plugins.module_utils._lock import process_gone, process_identity

    me = process_identity(os.getpid())
    assert me is not None and me.startswith("%d:" % os.getpid())
    assert not process_gone(me)
    child = subprocess.Popen(["true"])
    child.wait()
    gone = "%d:1" % child.pid
    assert process_gone(gone), "an exited process is gone"
    assert process_gone("%d:%s" % (os.getpid(), int(me.split(":")[1]) + 1)), "the same pid, another start: gone"
    for nothing in (None, "", "abc", "12", 12):
        assert not process_gone(nothing), "nothing to judge by: assumed alive"


def test_a_refused_acquire_from_a_dead_run_of_this_controller_is_taken_over():
    from ansible_collections.zerodown.deploy.plugins.action.deploy_lock import dead_holder_reason

    holder = {"run_id": "r1", "controller": "ctl1", "controller_process": "999999999:5"}
    refused = {"failed": True, "holder": holder}
    reason = dead_holder_reason(refused, {"app": "shop"}, controller="ctl1")
    assert "run r1 holding it died" in reason and "999999999:5" in reason and "ctl1" in reason
    assert dead_holder_reason(refused, {"app": "shop"}, controller="ctl2") is None, "another controller's run"
    assert dead_holder_reason(refused, {"force": True}, controller="ctl1") is None
    assert dead_holder_reason(refused, {"state": "released"}, controller="ctl1") is None
    assert dead_holder_reason({"failed": False, "holder": holder}, {}, controller="ctl1") is None
    import os

    from ansible_collections.zerodown.deploy.plugins.module_utils._lock import process_identity

    alive = dict(holder, controller_process=process_identity(os.getpid()))
    assert dead_holder_reason({"failed": True, "holder": alive}, {}, controller="ctl1") is None, "still running"


# -- the deploy_lock module's engine (_deploy_lock.run), without AnsibleModule --------------------


def lock_params(tmp_path, **options):
    params = dict(
        app="shop",
        state="acquired",
        run_id="run-1",
        owner="alice",
        controller="ctl1",
        controller_process=None,
        reason=None,
        release="v2",
        ttl=None,
        force=False,
        path=str(tmp_path / "state"),
        load_balancer=None,
        ledger=None,
    )
    params.update(options)
    return params


def ledger_option(**options):
    return dict(dict(plan=None, phase=None, outcome=None, cause=None), **options)


def test_run_takes_the_lock_with_the_ledger_and_finishes_both(tmp_path):
    taken = _deploy_lock.run(lock_params(tmp_path, ledger=ledger_option(phase="stage")), check_mode=False)
    assert taken["changed"] and taken["action"] == "create" and taken["held"] and not taken["expired"]
    assert taken["lock"]["run_id"] == "run-1" and taken["lock"]["ttl"] == _deploy_lock.DEFAULT_TTL
    assert taken["diff"] == {"before": {}, "after": taken["lock"]} and taken["audit"]["event"] == "acquire"
    assert taken["ledger"]["outcome"] == "running" and [p["name"] for p in taken["ledger"]["phases"]] == ["stage"]
    assert {"moved_hosts", "phase_seconds", "summary", "summary_lines"} <= set(taken)

    query = _deploy_lock.run(lock_params(tmp_path, state="query", run_id=None), check_mode=False)
    assert query["changed"] is False and query["held"] and query["lock"]["owner"] == "alice"
    assert query["expires_in"] <= _deploy_lock.DEFAULT_TTL and query["age"] >= 0

    released = _deploy_lock.run(
        lock_params(tmp_path, state="released", ledger=ledger_option(outcome="completed")), check_mode=False
    )
    assert released["changed"] and released["action"] == "release" and released["lock"] is None
    assert released["held"] is False and released["previous_holder"]["run_id"] == "run-1"
    assert released["ledger"]["outcome"] == "unchanged"  # completed, and no host moved
    assert not (tmp_path / "state" / "shop" / "deploy.lock").exists()


def test_run_refuses_a_second_run_naming_the_holder(tmp_path):
    _deploy_lock.run(lock_params(tmp_path), check_mode=False)
    with pytest.raises(ModuleFailure) as exc:
        _deploy_lock.run(lock_params(tmp_path, run_id="run-2", owner="bob"), check_mode=True)
    assert exc.value.result["changed"] is False
    assert exc.value.result["holder"]["owner"] == "alice" and "expires_in" in exc.value.result["holder"]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"ledger": ledger_option(outcome="failed")}, "ledger.outcome is for state=released (finishing the ledger)"),
        (
            {"state": "query", "ledger": ledger_option()},
            "ledger is for state=acquired (start it) or state=released (finish it), not state=query",
        ),
        ({"state": "released", "ledger": ledger_option(phase="x", outcome="failed")}, "ledger.phase is for "),
        ({"load_balancer": {"socket": "/x"}}, "load_balancer is read for the ledger: give ledger too"),
        ({"state": "released", "run_id": None}, "state=released needs the run_id that acquired the lock"),
        ({"ttl": -5}, "(e.g. ttl: 3600)"),
        ({"app": "../etc"}, "app"),
    ],
)
def test_run_refuses_options_that_do_not_go_together_before_anything_is_written(tmp_path, options, message):
    with pytest.raises(ModuleFailure) as exc:
        _deploy_lock.run(lock_params(tmp_path, **options), check_mode=False)
    assert message in exc.value.msg
    assert not (tmp_path / "state").exists()


def test_run_gives_back_the_lock_it_took_when_the_ledger_cannot_start(tmp_path):
    state = tmp_path / "state" / "shop"
    state.mkdir(parents=True, mode=0o700)
    (state / "ledger.json").write_text("not json")
    with pytest.raises(ModuleFailure) as exc:
        _deploy_lock.run(lock_params(tmp_path, ledger=ledger_option()), check_mode=False)
    assert exc.value.msg.startswith("deploy ledger: ") and exc.value.result == {"changed": False}
    assert exc.value.msg.endswith("; the lock this call took was given back")
    assert not (state / "deploy.lock").exists()


def test_run_in_check_mode_writes_nothing(tmp_path):
    out = _deploy_lock.run(lock_params(tmp_path, ledger=ledger_option()), check_mode=True)
    assert out["changed"] and out["action"] == "create" and out["lock"]["owner"] == "alice"
    assert out["ledger"]["run_id"] == "run-1" and "audit" not in out
    assert not (tmp_path / "state").exists()
