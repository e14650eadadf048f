"""deploy_lock through real Ansible against a lock directory in tmp_path."""

from __future__ import annotations

import json
import stat
import time
from concurrent.futures import ThreadPoolExecutor

from zerodown_testkit.support.ansible_run import run_module


def _args(tmp_path, **kw):
    args = {
        "app": "shop",
        "path": str(tmp_path / "state"),
        "owner": "alice",
        "controller": "ctl1",
        "release": "v2",
        "run_id": "run-1",
        "ttl": 600,
    }
    args.update(kw)
    return args


def _lockfile(tmp_path):
    return tmp_path / "state" / "shop" / "deploy.lock"


def _audit(tmp_path):
    path = tmp_path / "state" / "shop" / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_acquire_check_real_again(tmp_path):
    check = run_module("deploy_lock", _args(tmp_path), check=True, diff=True)
    assert check["changed"] is True and check["action"] == "create" and not check["failed"]
    assert not (tmp_path / "state").exists()

    real = run_module("deploy_lock", _args(tmp_path))
    assert real["changed"] is True and real["lock"]["owner"] == "alice"
    data = json.loads(_lockfile(tmp_path).read_text())
    assert data["run_id"] == "run-1" and data["release"] == "v2" and data["controller"] == "ctl1"
    assert stat.S_IMODE(_lockfile(tmp_path).stat().st_mode) == 0o600
    assert stat.S_IMODE(_lockfile(tmp_path).parent.stat().st_mode) == 0o700

    again = run_module("deploy_lock", _args(tmp_path))
    assert again["changed"] is False and not again["failed"]

    query = run_module("deploy_lock", {"app": "shop", "path": str(tmp_path / "state"), "state": "query"})
    assert query["held"] is True and query["lock"]["owner"] == "alice" and 0 < query["expires_in"] <= 600


def test_second_deploy_is_refused_with_holder_details(tmp_path):
    run_module("deploy_lock", _args(tmp_path))
    for check in (True, False):
        refused = run_module("deploy_lock", _args(tmp_path, owner="bob", run_id="run-2", release="v3"), check=check)
        assert refused["failed"] and refused["changed"] is False
        assert "'alice'" in refused["msg"] and "'v2'" in refused["msg"] and "expires in" in refused["msg"]
        assert refused["holder"]["owner"] == "alice" and "age" in refused["holder"]
    assert json.loads(_lockfile(tmp_path).read_text())["run_id"] == "run-1"


def test_stale_lock_is_taken_over_and_logged(tmp_path):
    run_module("deploy_lock", _args(tmp_path, ttl=1))
    time.sleep(1.2)
    check = run_module("deploy_lock", _args(tmp_path, owner="bob", run_id="run-2"), check=True)
    assert check["action"] == "takeover" and json.loads(_lockfile(tmp_path).read_text())["owner"] == "alice"
    took = run_module("deploy_lock", _args(tmp_path, owner="bob", run_id="run-2"))
    assert took["changed"] and took["action"] == "takeover" and took["previous_holder"]["owner"] == "alice"
    assert json.loads(_lockfile(tmp_path).read_text())["owner"] == "bob"
    last = _audit(tmp_path)[-1]
    assert last["event"] == "takeover" and last["by"]["owner"] == "bob" and last["previous"]["owner"] == "alice"
    assert last["at"].endswith("Z")


def test_force_break_is_audited(tmp_path):
    run_module("deploy_lock", _args(tmp_path))
    broke = run_module("deploy_lock", _args(tmp_path, owner="oncall", run_id="run-9", force=True))
    assert broke["changed"] and broke["action"] == "force_break"
    assert _audit(tmp_path)[-1]["event"] == "force_break"
    assert _audit(tmp_path)[-1]["previous"]["owner"] == "alice"


def test_release_by_non_owner_refused_unless_forced(tmp_path):
    run_module("deploy_lock", _args(tmp_path))
    refused = run_module("deploy_lock", _args(tmp_path, state="released", run_id="run-2", owner="bob"))
    assert refused["failed"] and "alice" in refused["msg"] and _lockfile(tmp_path).exists()
    forced = run_module(
        "deploy_lock",
        {"app": "shop", "path": str(tmp_path / "state"), "state": "released", "force": True, "owner": "oncall"},
    )
    assert forced["changed"] and not _lockfile(tmp_path).exists()
    assert _audit(tmp_path)[-1]["event"] == "force_break" and _audit(tmp_path)[-1]["by"]["owner"] == "oncall"


def test_release_check_real_again(tmp_path):
    run_module("deploy_lock", _args(tmp_path))
    check = run_module("deploy_lock", _args(tmp_path, state="released"), check=True)
    assert check["changed"] and _lockfile(tmp_path).exists()
    real = run_module("deploy_lock", _args(tmp_path, state="released"))
    assert real["changed"] and not _lockfile(tmp_path).exists()
    again = run_module("deploy_lock", _args(tmp_path, state="released"))
    assert again["changed"] is False and not again["failed"]


def test_concurrent_acquirers_exactly_one_wins(tmp_path):
    def acquire(i):
        return run_module("deploy_lock", _args(tmp_path, owner="user%d" % i, run_id="run-%d" % i))

    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(acquire, range(5)))
    winners = [r for r in results if not r["failed"]]
    assert len(winners) == 1
    holder = json.loads(_lockfile(tmp_path).read_text())
    assert holder["owner"] == winners[0]["lock"]["owner"]
    for loser in (r for r in results if r["failed"]):
        assert holder["owner"] in loser["msg"]
    assert [e["event"] for e in _audit(tmp_path)] == ["acquire"]


def test_bad_input_is_named(tmp_path):
    bad_app = run_module("deploy_lock", _args(tmp_path, app="../etc"))
    assert bad_app["failed"] and "'../etc'" in bad_app["msg"]
    bad_ttl = run_module("deploy_lock", _args(tmp_path, ttl=0))
    assert bad_ttl["failed"] and "ttl" in bad_ttl["msg"]
    assert not (tmp_path / "state").exists()


def test_the_holder_refreshes_its_lock_between_phases(tmp_path):
    run_module("deploy_lock", _args(tmp_path, ttl=2))
    taken = json.loads(_lockfile(tmp_path).read_text())
    refresh = {"app": "shop", "path": str(tmp_path / "state"), "run_id": "run-1", "state": "refreshed"}
    check = run_module("deploy_lock", refresh, check=True, diff=True)
    assert check["changed"] and check["action"] == "refresh" and check["lock"]["expires_epoch"] > taken["expires_epoch"]
    assert json.loads(_lockfile(tmp_path).read_text()) == taken  # check mode wrote nothing
    time.sleep(1.5)
    real = run_module("deploy_lock", dict(refresh, ttl=600))
    assert real["changed"] and real["action"] == "refresh" and real["lock"]["ttl"] == 600
    assert real["audit"]["event"] == "refresh" and 590 < real["expires_in"] <= 600
    time.sleep(1)  # past the TTL it was taken with: still held, refused to another run
    refused = run_module("deploy_lock", _args(tmp_path, owner="bob", run_id="run-2"))
    assert refused["failed"] and "'alice'" in refused["msg"]
    assert [e["event"] for e in _audit(tmp_path)] == ["acquire", "refresh"]


def test_a_run_that_lost_its_lock_is_told_when_it_refreshes(tmp_path):
    run_module("deploy_lock", _args(tmp_path, ttl=1))
    time.sleep(1.2)
    run_module("deploy_lock", _args(tmp_path, owner="bob", run_id="run-2"))
    lost = run_module(
        "deploy_lock", {"app": "shop", "path": str(tmp_path / "state"), "run_id": "run-1", "state": "refreshed"}
    )
    assert lost["failed"] and "this run lost it" in lost["msg"] and lost["holder"]["owner"] == "bob"
    assert json.loads(_lockfile(tmp_path).read_text())["run_id"] == "run-2"


def test_a_corrupt_lock_is_named_and_force_breaks_it(tmp_path):
    run_module("deploy_lock", _args(tmp_path))
    _lockfile(tmp_path).write_text('{"run_id": "run-1", "started_epoch": "yesterday", "expires_epoch": 1}')
    before = _lockfile(tmp_path).read_text()
    for args in (
        _args(tmp_path, owner="bob", run_id="run-2"),
        _args(tmp_path, state="released"),
        {"app": "shop", "path": str(tmp_path / "state"), "state": "query"},
        {"app": "shop", "path": str(tmp_path / "state"), "state": "refreshed", "run_id": "run-1"},
    ):
        refused = run_module("deploy_lock", args)
        assert refused["failed"] and not refused["changed"]
        assert str(_lockfile(tmp_path)) in refused["msg"]
        assert "field started_epoch is a string ('yesterday'), expected a finite number" in refused["msg"]
        assert "force: true" in refused["msg"]
    assert _lockfile(tmp_path).read_text() == before and len(_audit(tmp_path)) == 1

    check = run_module("deploy_lock", _args(tmp_path, owner="bob", run_id="run-2", force=True), check=True)
    assert check["changed"] and check["action"] == "force_break" and "yesterday" not in json.dumps(check["lock"])
    assert _lockfile(tmp_path).read_text() == before
    broke = run_module("deploy_lock", _args(tmp_path, owner="bob", run_id="run-2", force=True))
    assert broke["changed"] and broke["action"] == "force_break" and broke["lock"]["owner"] == "bob"
    kept = broke["previous_holder"]["moved_to"]
    assert open(kept).read() == before and "started_epoch" in broke["previous_holder"]["corrupt"]
    last = _audit(tmp_path)[-1]
    assert last["event"] == "force_break" and last["by"]["owner"] == "bob" and last["previous"]["moved_to"] == kept
