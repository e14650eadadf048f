from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._lock import (
    DeployLock,
    LockHeld,
    NotOwner,
    StateDir,
    validate_app,
)


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
