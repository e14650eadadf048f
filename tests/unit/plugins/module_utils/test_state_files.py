"""State files the collection wrote itself (lock, ledger) are schema-checked when read back.

Every kind of damage - not JSON, not an object, wrong field types, missing fields, a huge file, a FIFO, a
symlink - is a StateFileError naming the file, the field, what was expected and what to do; nothing is
changed by the refused call, and force: true breaks an unreadable lock (audited, the bad file kept).
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils import _lock
from ansible_collections.zerodown.deploy.plugins.module_utils._ledger import (
    LEDGER_FILE,
    PREVIOUS_LEDGER_FILE,
    Ledger,
    LedgerError,
    captured_restore,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._lock import (
    LOCK_FILE,
    DeployLock,
    NotOwner,
    StateDir,
    StateFileError,
)


@pytest.fixture
def state(tmp_path):
    return StateDir(str(tmp_path / "state"), "shop")


@pytest.fixture
def lock(state, clock):
    return DeployLock(state, clock=clock)


@pytest.fixture
def ledger(state, clock):
    return Ledger(state, clock=clock)


def _good_lock(lock):
    lock.acquire("alice", "run-1", release="v2", ttl=600)
    return json.loads(open(lock.dir.file(LOCK_FILE)).read())


def _good_ledger(ledger):
    ledger.start("run-1", "v2", {"lb": {"s1": {"state": "ready", "weight": 1}}})
    ledger.update("run-1", hosts={"app1": {"previous": "v1", "status": "moved", "batch": 1}}, batch=1, phase="b1")
    return json.loads(open(ledger.dir.file(LEDGER_FILE)).read())


def _with(data, path, value):
    """A copy of ``data`` with the field at ``path`` (a tuple of keys) set to ``value`` (or removed: _MISSING)."""
    out = json.loads(json.dumps(data))
    target = out
    for key in path[:-1]:
        target = target[key]
    if value is _MISSING:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


class _Missing:
    """A field removed; its repr is stable, so test ids are the same in every process (pytest-xdist)."""

    def __repr__(self) -> str:
        return "MISSING"


_MISSING = _Missing()

LOCK_DAMAGE = [
    ("not JSON", b"{owner: alice", "is not valid JSON"),
    ("empty", b"", "is not valid JSON"),
    ("JSON list", b"[1, 2]", "holds a list, expected a JSON object"),
    ("JSON string", b'"locked"', "holds a string ('locked'), expected a JSON object"),
    ("not UTF-8", b"\xff\xfe{}", "is not UTF-8 text"),
    ("NaN expiry", None, "is not valid JSON (NaN is not a number zerodown writes"),
    ("1e400 expiry", b'{"run_id": "r", "started_epoch": 1, "expires_epoch": 1e400}', "field expires_epoch is inf"),
    ("nested too deep", b'{"run_id": ' + b"[" * 50000 + b"]" * 50000 + b"}", "is JSON nested deeper than 100"),
]
LOCK_FIELDS = [
    (("expires_epoch",), "soon", "field expires_epoch is a string ('soon'), expected a finite number"),
    (("expires_epoch",), True, "field expires_epoch is true, expected a finite number"),
    (("run_id",), 5, "field run_id is a number (5), expected a string"),
    (("run_id",), _MISSING, "field run_id is missing"),
    (("started_epoch",), [1], "field started_epoch is a list, expected a finite number"),
    (("owner",), {"name": "alice"}, "field owner is a JSON object, expected a string or null"),
    (("pid",), "4242", "field pid is a string ('4242'), expected an integer or null"),
    # well-typed, but times no lock this collection wrote can have: read as live, they would block for ever
    (("expires_epoch",), 1e300, "field expires_epoch is 1e+300, more than the longest TTL (2592000 seconds) after"),
    (("started_epoch",), 1e300, "field started_epoch is 1e+300, not a time a lock was taken"),
    (("started_epoch",), -5.0, "field started_epoch is -5.0, not a time a lock was taken"),
    (("expires_epoch",), 10.0, "field expires_epoch is 10.0, before started_epoch"),
    (("ttl",), 1e300, "field ttl is 1e+300, not 1 to 2592000 seconds"),
    (("ttl",), 0, "field ttl is 0, not 1 to 2592000 seconds"),
]


@pytest.mark.parametrize("name, raw, problem", LOCK_DAMAGE, ids=[d[0] for d in LOCK_DAMAGE])
def test_an_unreadable_lock_is_named_and_force_breaks_it(lock, name, raw, problem):
    good = _good_lock(lock)
    path = lock.dir.file(LOCK_FILE)
    if raw is None:
        raw = json.dumps(dict(good, expires_epoch=float("nan"))).encode()
    with open(path, "wb") as handle:
        handle.write(raw)
    _refused_then_forced(lock, path, raw, problem)


@pytest.mark.parametrize("field, value, problem", LOCK_FIELDS, ids=[d[2] for d in LOCK_FIELDS])
def test_a_lock_with_a_wrong_field_is_named_and_force_breaks_it(lock, field, value, problem):
    good = _good_lock(lock)
    path = lock.dir.file(LOCK_FILE)
    raw = json.dumps(_with(good, field, value)).encode()
    with open(path, "wb") as handle:
        handle.write(raw)
    _refused_then_forced(lock, path, raw, problem)


def _refused_then_forced(lock, path, raw, problem):
    audit_before = lock.dir.audit_entries()
    for call in (
        lock.read,
        lambda: lock.acquire("bob", "run-2"),
        lambda: lock.acquire("alice", "run-1"),
        lambda: lock.refresh("run-1"),
        lambda: lock.release("run-1"),
        lambda: lock.plan_acquire("run-2", force=False),
    ):
        with pytest.raises(StateFileError) as err:
            call()
        message = str(err.value)
        assert message.startswith(path + " "), message
        assert problem in message, message
        assert "force: true" in message and "move it aside" in message
        assert open(path, "rb").read() == raw, "a refused call changed the lock file"
    assert lock.dir.audit_entries() == audit_before

    # check mode's plan, then the break itself: audited, the bad file kept beside the new lock
    plan = lock.plan_acquire("run-2", force=True)
    assert plan["action"] == "force_break" and plan["corrupt"].problem in str(plan["corrupt"])
    out = lock.acquire("bob", "run-2", ttl=60, force=True)
    assert out["changed"] and out["action"] == "force_break" and lock.read()["owner"] == "bob"
    kept = out["previous_holder"]["moved_to"]
    assert os.path.basename(kept).startswith("deploy.lock.corrupt-") and open(kept, "rb").read() == raw
    entry = lock.dir.audit_entries()[-1]
    assert entry["event"] == "force_break" and entry["by"]["owner"] == "bob"
    assert entry["previous"]["sha256"] and entry["previous"]["size"] == len(raw)
    assert problem.split(" (")[0] in entry["previous"]["corrupt"]


def test_force_release_breaks_an_unreadable_lock(lock):
    _good_lock(lock)
    path = lock.dir.file(LOCK_FILE)
    with open(path, "w") as handle:
        handle.write("[]")
    assert lock.plan_release(None, force=True)["action"] == "force_break"
    out = lock.release(None, owner="ops", force=True)
    assert out["action"] == "force_break" and not os.path.exists(path)
    assert open(out["previous_holder"]["moved_to"]).read() == "[]"
    assert lock.dir.audit_entries()[-1]["event"] == "force_break"
    assert lock.read() is None


def test_huge_fifo_directory_and_symlink_locks_are_refused_without_reading_them(lock, tmp_path):
    _good_lock(lock)
    path = lock.dir.file(LOCK_FILE)
    os.unlink(path)
    with open(path, "wb") as handle:
        handle.truncate(_lock.MAX_STATE_BYTES + 1)  # sparse: instant, and never read
    with pytest.raises(StateFileError, match="is %d bytes, more than the" % (_lock.MAX_STATE_BYTES + 1)):
        lock.read()
    os.unlink(path)
    os.mkfifo(path)  # opening a FIFO for reading would block forever
    with pytest.raises(StateFileError, match="is not a regular file"):
        lock.read()
    os.unlink(path)
    os.mkdir(path)
    with pytest.raises(StateFileError, match="is not a regular file"):
        lock.read()
    os.rmdir(path)
    secret = tmp_path / "elsewhere.json"
    secret.write_text('{"run_id": "x", "started_epoch": 1, "expires_epoch": 2}')
    os.symlink(str(secret), path)
    with pytest.raises(StateFileError, match="is a symbolic link"):
        lock.read()
    out = lock.acquire("bob", "run-2", force=True)
    assert out["action"] == "force_break" and os.path.islink(out["previous_holder"]["moved_to"])
    assert secret.read_text().startswith('{"run_id"'), "the link's target is never touched"


# -- refresh --------------------------------------------------------------------------------


def test_the_holder_refreshes_its_lock_past_the_ttl(lock, clock):
    lock.acquire("alice", "run-1", ttl=60)
    clock.now += 50
    out = lock.refresh("run-1")
    assert out["changed"] and out["action"] == "refresh"
    assert out["lock"]["expires_epoch"] == clock.now + 60 and out["lock"]["ttl"] == 60
    clock.now += 50  # 100 s after taking a 60 s lock: still held
    assert not lock.is_expired(lock.read())
    with pytest.raises(_lock.LockHeld):
        lock.acquire("bob", "run-2")
    longer = lock.refresh("run-1", ttl=600)
    assert longer["lock"]["expires_epoch"] == clock.now + 600 and longer["lock"]["ttl"] == 600
    assert lock.read()["started_epoch"] == 1_000_000.0, "a refresh keeps when the lock was taken"
    events = [e["event"] for e in lock.dir.audit_entries()]
    assert events == ["acquire", "refresh", "refresh"]


def test_the_same_run_acquiring_again_after_its_ttl_refreshes(lock, clock):
    lock.acquire("alice", "run-1", ttl=60)
    assert lock.acquire("alice", "run-1", ttl=60)["action"] == "none"  # within the TTL: idempotent
    clock.now += 61
    out = lock.acquire("alice", "run-1", ttl=60)
    assert out["changed"] and out["action"] == "refresh" and not lock.is_expired(lock.read())


def test_a_run_that_lost_its_lock_cannot_refresh_it(lock, clock):
    lock.acquire("alice", "run-1", ttl=60)
    clock.now += 61
    lock.acquire("bob", "run-2", ttl=60)  # takeover of the stale lock
    with pytest.raises(NotOwner, match="held by owner 'bob'.*not by run 'run-1'.*this run lost it"):
        lock.refresh("run-1")
    assert lock.read()["run_id"] == "run-2"
    lock.release("run-2")
    with pytest.raises(NotOwner, match="not held by anyone"):
        lock.refresh("run-2")
    assert lock.read() is None


# -- the ledger -----------------------------------------------------------------------------

LEDGER_FIELDS = [
    (("hosts",), [], "field hosts is a list, expected a JSON object"),
    (("hosts", "app1"), "moved", "field hosts[\"app1\"] is a string ('moved'), expected a JSON object"),
    (("hosts", "app1", "batch"), "1", "field hosts[\"app1\"].batch is a string ('1'), expected an integer or null"),
    (("hosts", "app1", "status"), "gone", "field hosts[\"app1\"].status is 'gone', expected a string or null (one of"),
    (("hosts", "app1", "previous"), 1.5, 'field hosts["app1"].previous is a number (1.5), expected a string or null'),
    (("batches", 0, "hosts"), "app1", "field batches[0].hosts is a string ('app1'), expected a list"),
    (("batches", 0, "batch"), None, "field batches[0].batch is null, expected an integer"),
    (("phases", 0, "started_epoch"), "x", "field phases[0].started_epoch is a string ('x'), expected a finite number"),
    (("phases", 0), _MISSING, None),  # an empty phases list is fine
    (("phases",), _MISSING, "field phases is missing"),
    (("run_id",), _MISSING, "field run_id is missing"),
    (("outcome",), "exploded", "field outcome is 'exploded', expected a string (one of running"),
    (("lb_state",), "ready", "field lb_state is a string ('ready'), expected null or a JSON object"),
    (("started_epoch",), "yesterday", "field started_epoch is a string ('yesterday'), expected a finite number"),
]


@pytest.mark.parametrize(
    "field, value, problem", LEDGER_FIELDS, ids=[str(d[0]) + ":" + repr(d[1]) for d in LEDGER_FIELDS]
)
def test_a_ledger_with_a_wrong_field_is_named_and_nothing_changes(ledger, state, field, value, problem):
    good = _good_ledger(ledger)
    path = state.file(LEDGER_FILE)
    raw = json.dumps(_with(good, field, value)).encode()
    with open(path, "wb") as handle:
        handle.write(raw)
    if problem is None:
        assert ledger.read()["phases"] == []
        return
    _ledger_refused(ledger, path, raw, problem)


@pytest.mark.parametrize(
    "raw, problem",
    [
        (b"not json", "is not valid JSON"),
        (b"[]", "holds a list, expected a JSON object"),
        (b"null", "holds null, expected a JSON object"),
        (b"\x00\x01", "is not valid JSON"),
    ],
)
def test_a_ledger_that_is_not_a_json_object_is_named(ledger, state, raw, problem):
    _good_ledger(ledger)
    path = state.file(LEDGER_FILE)
    with open(path, "wb") as handle:
        handle.write(raw)
    _ledger_refused(ledger, path, raw, problem)


def test_a_huge_ledger_is_refused_unread(ledger, state):
    _good_ledger(ledger)
    path = state.file(LEDGER_FILE)
    with open(path, "wb") as handle:
        handle.truncate(_lock.MAX_STATE_BYTES * 4)
    with pytest.raises(StateFileError, match="bytes, more than the"):
        ledger.read()


def _ledger_refused(ledger, path, raw, problem):
    for call in (
        ledger.read,
        lambda: ledger.update("run-1", phase="b2"),
        lambda: ledger.start("run-2", "v3"),
    ):
        with pytest.raises(StateFileError) as err:
            call()
        message = str(err.value)
        assert message.startswith(path + " ") and problem in message, message
        assert "move it aside (mv %s %s.corrupt)" % (path, path) in message
        assert open(path, "rb").read() == raw
    # the rollback's reader (switch_traffic restore_ledger) says the same, as a LedgerError
    with pytest.raises(LedgerError) as err:
        captured_restore(ledger.dir.root, "shop")
    assert problem in str(err.value) and "writable" not in str(err.value)


def test_the_previous_ledger_is_checked_too(ledger, state, clock):
    _good_ledger(ledger)
    ledger.update("run-1", outcome="succeeded")
    ledger.start("run-2", "v3")  # run-1's ledger becomes the previous one
    with open(state.file(PREVIOUS_LEDGER_FILE), "w") as handle:
        handle.write('{"run_id": 7}')
    with pytest.raises(StateFileError, match="ledger.previous.json field"):
        ledger.update("run-2", outcome="unchanged")  # a no-op run would put the previous ledger back


def test_what_would_not_read_back_is_never_written(ledger, state):
    _good_ledger(ledger)
    before = open(state.file(LEDGER_FILE)).read()
    with pytest.raises(LedgerError, match=r"hosts\[\"app2\"\].previous is a number \(2\), expected a string or null"):
        ledger.update("run-1", hosts={"app2": {"previous": 2}})
    with pytest.raises(LedgerError, match="nothing was written"):
        ledger.update("run-1", hosts={"app2": {"batch": "first"}})
    assert open(state.file(LEDGER_FILE)).read() == before


# -- the state directory itself, the audit log -------------------------------------------------------------


def test_a_symlinked_state_directory_is_refused_and_its_target_left_alone(tmp_path, clock):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o755)
    (tmp_path / "state").mkdir()
    os.symlink(str(target), str(tmp_path / "state" / "shop"))
    lock = DeployLock(StateDir(str(tmp_path / "state"), "shop"), clock=clock)
    for call in (lock.read, lambda: lock.acquire("alice", "run-1", ttl=600), lambda: lock.release("run-1")):
        with pytest.raises(_lock.StateError, match="is a symlink .to %s., not a directory: nothing was" % target):
            call()
    assert os.stat(target).st_mode & 0o777 == 0o755 and os.listdir(target) == []
    os.unlink(str(tmp_path / "state" / "shop"))
    (tmp_path / "state" / "shop").write_text("x")
    with pytest.raises(_lock.StateError, match="is a regular file, not a directory"):
        lock.acquire("alice", "run-1", ttl=600)


def test_an_audit_record_never_glues_onto_a_cut_off_last_line(lock):
    lock.acquire("alice", "run-1", release="v2", ttl=600)
    path = lock.dir.file(_lock.AUDIT_FILE)
    with open(path, "ab") as handle:
        handle.write(b'{"at": "2026-01-01T00:00:00Z", "event": "acq')  # a crash (or a full disk) mid-record
    lock.release("run-1")
    lines = open(path, "rb").read().splitlines()
    assert lines[-2] == b'{"at": "2026-01-01T00:00:00Z", "event": "acq'
    assert json.loads(lines[-1])["event"] == "release"
    entries = lock.dir.audit_entries()
    assert [e["event"] for e in entries] == ["acquire", "unreadable", "release"]
    assert entries[1]["line"].endswith('"event": "acq')
