from __future__ import annotations

import hashlib
import io
import os
import tarfile

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._release import (
    ReleaseError,
    ReleaseTree,
    apply_release,
    parse_checksum,
    validate_release,
)


def make_tar(path, files, prefix="app/", extra=None):
    with tarfile.open(path, "w:gz") as tar:
        for name, body in files.items():
            data = body.encode()
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            info.mode = 0o4777 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info)
    return "sha256:" + hashlib.sha256(open(path, "rb").read()).hexdigest()


class Systemctl:
    def __init__(self):
        self.calls = []
        self.active = False

    def __call__(self, cmd):
        self.calls.append(cmd[1:])
        if cmd[1] == "start":
            self.active = True
        elif cmd[1] == "stop":
            self.active = False
        elif cmd[1] == "is-active":
            return (0 if self.active else 3), "", ""
        return 0, "", ""


@pytest.fixture
def sysd():
    return Systemctl()


@pytest.fixture
def tree(tmp_path, sysd):
    counter = iter(range(1000, 2000))
    return ReleaseTree(str(tmp_path / "opt"), "shop", runner=sysd, clock=lambda: float(next(counter)))


def deploy(tree, tmp_path, release, state="current", **kw):
    art = str(tmp_path / ("%s.tar.gz" % release))
    if not os.path.exists(art):
        make_tar(art, {"run.sh": "echo %s" % release, "VERSION": release})
    kw.setdefault("checksum", parse_checksum("sha256:" + hashlib.sha256(open(art, "rb").read()).hexdigest()))
    kw.setdefault("service", "shop.service")
    return apply_release(tree, state, release, artifact=art, strip=1, **kw)


def test_first_deploy_unpacks_switches_and_starts(tree, tmp_path, sysd):
    out = deploy(tree, tmp_path, "v1", shared_dirs=["log"])
    assert out["previous"] is None and out["current"] == "v1"
    assert out["actions"] == ["unpack", "switch", "restart"]
    assert os.readlink(tree.current_link) == "releases/v1"
    rel = tree.release_dir("v1")
    assert open(os.path.join(rel, "VERSION")).read() == "v1"
    assert os.stat(os.path.join(rel, "run.sh")).st_mode & 0o7777 == 0o755  # setuid and world-write stripped
    assert os.readlink(os.path.join(rel, "log")) == os.path.join(tree.shared_dir, "log")
    assert sysd.calls == [["stop", "shop.service"], ["reset-failed", "shop.service"], ["start", "shop.service"]]


def test_second_run_changes_nothing_and_needs_no_artifact(tree, tmp_path, sysd):
    deploy(tree, tmp_path, "v1")
    os.unlink(tmp_path / "v1.tar.gz")
    again = apply_release(tree, "current", "v1", service="shop.service")
    assert again["changed"] is False and again["actions"] == []


def test_switch_reports_previous_and_rollback_returns(tree, tmp_path):
    deploy(tree, tmp_path, "v1")
    out = deploy(tree, tmp_path, "v2")
    assert out["previous"] == "v1" and out["current"] == "v2"
    back = apply_release(tree, "rollback", None, service="shop.service")
    assert back["previous"] == "v2" and back["current"] == "v1"
    assert os.readlink(tree.current_link) == "releases/v1"


def test_stage_does_not_switch(tree, tmp_path, sysd):
    deploy(tree, tmp_path, "v1")
    sysd.calls.clear()
    out = deploy(tree, tmp_path, "v2", state="present")
    assert out["actions"] == ["unpack"] and out["current"] == "v1" and sysd.calls == []
    assert tree.is_complete("v2") and os.readlink(tree.current_link) == "releases/v1"


def test_checksum_mismatch_changes_nothing(tree, tmp_path):
    art = str(tmp_path / "v1.tar.gz")
    make_tar(art, {"VERSION": "v1"})
    with pytest.raises(ReleaseError, match="expected"):
        apply_release(tree, "current", "v1", artifact=art, checksum="0" * 64)
    assert not os.path.exists(tree.release_dir("v1")) and tree.live() is None
    assert tree.partials() == []


def test_same_release_id_with_another_artifact_is_refused(tree, tmp_path):
    deploy(tree, tmp_path, "v1")
    art = str(tmp_path / "other.tar.gz")
    cs = make_tar(art, {"VERSION": "other"})
    with pytest.raises(ReleaseError, match="new release id"):
        apply_release(tree, "current", "v1", artifact=art, checksum=parse_checksum(cs))


def test_prune_keeps_live_and_the_one_before(tree, tmp_path):
    for rel in ("v1", "v2", "v3", "v4"):
        deploy(tree, tmp_path, rel)
    # roll back to v3, then prune keeping 1: v3 (live) and v4 (before it) stay
    apply_release(tree, "rollback", "v3")
    out = apply_release(tree, "pruned", None, keep=1)
    assert sorted(out["pruned"]) == ["v1", "v2"]
    assert tree.releases() == ["v3", "v4"]


def test_absent_undoes_a_first_deploy(tree, tmp_path, sysd):
    deploy(tree, tmp_path, "v1")
    out = apply_release(tree, "absent", "v1", service="shop.service")
    assert out["current"] is None and not os.path.lexists(tree.current_link)
    assert not os.path.exists(tree.release_dir("v1"))
    assert sysd.calls[-1] == ["stop", "shop.service"]
    assert apply_release(tree, "absent", "v1")["changed"] is False


def test_check_mode_plans_without_touching(tree, tmp_path, sysd):
    out = deploy(tree, tmp_path, "v1", check=True)
    assert out["changed"] and out["current"] == "v1"
    assert not os.path.exists(tree.root) and sysd.calls == []


def test_rollback_without_history_is_explained(tree, tmp_path):
    deploy(tree, tmp_path, "v1")
    with pytest.raises(ReleaseError, match="no previous release"):
        apply_release(tree, "rollback", None)


@pytest.mark.parametrize(
    "member",
    [
        tarfile.TarInfo("app/../../etc/evil"),
        tarfile.TarInfo("/etc/evil"),
    ],
)
def test_escaping_members_are_refused(tree, tmp_path, member):
    art = str(tmp_path / "bad.tar.gz")
    cs = make_tar(art, {"VERSION": "x"}, extra=[member])
    with pytest.raises(ReleaseError, match="escapes"):
        apply_release(tree, "current", "v9", artifact=art, checksum=parse_checksum(cs), strip=1)
    assert not os.path.exists(tree.release_dir("v9"))


def test_symlink_out_of_the_release_is_refused(tree, tmp_path):
    link = tarfile.TarInfo("app/data")
    link.type = tarfile.SYMTYPE
    link.linkname = "../../../etc"
    art = str(tmp_path / "bad.tar.gz")
    cs = make_tar(art, {"VERSION": "x"}, extra=[link])
    with pytest.raises(ReleaseError, match="outside the release"):
        apply_release(tree, "current", "v9", artifact=art, checksum=parse_checksum(cs), strip=1)


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "v 1", "v1\n", "v1\x00"])
def test_bad_release_ids(bad):
    with pytest.raises(ValueError, match="invalid release"):
        validate_release(bad)


@pytest.mark.parametrize("bad", ["md5:abc", "xyz", "sha256:" + "0" * 63])
def test_bad_checksums(bad):
    with pytest.raises(ValueError, match="sha256"):
        parse_checksum(bad)


def test_shared_file_missing_is_refused_before_any_change(tree, tmp_path):
    with pytest.raises(ReleaseError, match="missing"):
        deploy(tree, tmp_path, "v1", shared_files=["config/app.env"])
    assert tree.live() is None and not os.path.exists(tree.releases_dir)


def test_a_release_installed_by_another_tool_is_adopted(tree, tmp_path):
    os.makedirs(os.path.join(tree.releases_dir, "v0"))
    os.symlink("releases/v0", tree.current_link)
    out = deploy(tree, tmp_path, "v1")
    assert out["previous"] == "v0" and sorted(tree.releases()) == ["v0", "v1"]
    back = apply_release(tree, "rollback", None)
    assert back["current"] == "v0"


# -- staging in one call: the unit, the artifact only when needed, readiness on the host ------------

UNIT = {"exec_start": "bin/start", "user": "root", "group": "root", "port": 8080, "stop_timeout": 30}


def test_staging_writes_the_unit_once_and_reports_what_needs_a_switch(tree, tmp_path, sysd):
    units = tmp_path / "units"
    units.mkdir()
    first = deploy(tree, tmp_path, "v1", state="present", unit=UNIT, unit_dir=str(units))
    assert first["actions"] == ["unpack", "unit"] and first["unit_changed"] and first["needs_switch"]
    assert "WorkingDirectory=%s" % tree.current_link in (units / "shop.service").read_text()
    assert sysd.calls == [["daemon-reload"], ["enable", "--quiet", "shop.service"]]
    deploy(tree, tmp_path, "v1")
    sysd.calls.clear()
    again = deploy(tree, tmp_path, "v1", state="present", unit=UNIT, unit_dir=str(units))
    assert sysd.calls == []
    assert again["actions"] == [] and not again["unit_changed"] and not again["needs_switch"]
    changed = deploy(tree, tmp_path, "v1", state="present", unit=dict(UNIT, stop_timeout=5), unit_dir=str(units))
    assert changed["unit_changed"] and changed["needs_switch"], "a new unit needs the host drained and restarted"
    out = apply_release(tree, "current", "v1", service="shop.service", restart=True)
    assert out["actions"] == ["restart"] and ["restart", "shop.service"] in sysd.calls


def test_a_missing_artifact_is_asked_for_before_anything_changes(tree, tmp_path, sysd):
    units = tmp_path / "units"
    units.mkdir()
    out = apply_release(
        tree,
        "present",
        "v1",
        artifact=str(tmp_path / "absent"),
        service="shop.service",
        unit=UNIT,
        unit_dir=str(units),
        artifact_missing="skip",
    )
    assert out["artifact_needed"] and out["changed"] is False and out["needs_switch"]
    assert sysd.calls == [] and not (units / "shop.service").exists() and not tree.is_complete("v1")
    with pytest.raises(ReleaseError, match="not a file"):
        apply_release(tree, "present", "v1", artifact=str(tmp_path / "absent"), check=True)


def test_a_download_is_used_only_when_the_release_is_missing(tree, tmp_path):
    art = str(tmp_path / "dl.tar.gz")
    checksum = parse_checksum(make_tar(art, {"VERSION": "v1"}))
    fetched = []

    def download():
        fetched.append(art)
        return art

    apply_release(tree, "current", "v1", checksum=checksum, strip=1, download=download)
    apply_release(tree, "current", "v1", checksum=checksum, strip=1, download=download)
    assert fetched == [art]


def test_readiness_runs_after_the_restart_with_the_release_now_current(tree, tmp_path):
    seen = []

    def ready(release):
        seen.append(release)
        return {"ready": release == "v1", "elapsed": 0.1, "results": []}

    deploy(tree, tmp_path, "v1", ready=ready)
    out = deploy(tree, tmp_path, "v2", ready=ready)
    back = apply_release(tree, "rollback", None, service="shop.service", ready=ready)
    assert seen == ["v1", "v2", "v1"] and out["ready"]["ready"] is False and back["ready"]["ready"] is True
    assert "ready" not in deploy(tree, tmp_path, "v2", state="present", ready=ready)


def test_bad_service_and_unit_values_change_nothing(tree, tmp_path, sysd):
    with pytest.raises(ValueError, match="service"):
        deploy(tree, tmp_path, "v1", service="shop; reboot", unit=UNIT)
    with pytest.raises(ValueError, match="needs service"):
        apply_release(tree, "present", "v1", unit=UNIT)
    assert sysd.calls == [] and not tree.is_complete("v1")
