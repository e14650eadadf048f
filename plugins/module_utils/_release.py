# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the release layout on an app host.

    <base>/<app>/releases/<release>/   one unpacked artifact per release
    <base>/<app>/shared/               files and directories every release links to
    <base>/<app>/current -> releases/<release>   swapped atomically (symlink + rename)
    <base>/<app>/.zerodown-release.json          which release is live and which ran before it

Everything a host does during a deploy happens in one module call built on
``ReleaseTree``: verify the artifact, unpack it (reusing a complete earlier
unpack), link shared paths, swap ``current`` with the service stopped and
start it again, prune. A release directory is complete when it carries the
marker written just before it is renamed into place; a crash mid-unpack
leaves only a ``.partial`` directory that the next run removes.

The marker is the release's manifest: the artifact's sha256 and, per path,
what was unpacked (file mode and sha256, link target, directory). A release
directory is only reused once it matches: the marker names this release and
the expected sha256, and the tree is the one the manifest lists. One that
does not (no marker, a damaged one, files changed since) is unpacked again
from the verified artifact, or refused with what is wrong when there is no
artifact, or when it is the live release (its files are in use). A directory
with no marker at all that is live is adopted as it is (a fleet seeded by
another tool keeps running; it is what runs already), and a rollback may go
back to one, since it ran before.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tarfile
import time
import zlib
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils import _account, _unit
from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._lock import (
    Leaf,
    MapOf,
    Obj,
    StateError,
    StateFileError,
    iso,
    load_state_file,
    validate_app,
)

MARKER = ".zerodown-release.json"
STATE = ".zerodown-release.json"
_HEX_RE = re.compile(r"^[0-9a-fA-F]{64}$")
MARKER_SHAPE = Obj(
    {
        "release": Leaf(str),
        "sha256": Leaf((str, None)),
        "unpacked_at": Leaf((str, None)),
        "unpacked_epoch": Leaf((int, float)),
        "manifest": MapOf(Leaf(str), nullable=True),
    },
    required=("release",),
)
STATE_SHAPE = Obj({"live": Leaf((str, None)), "previous": Leaf((str, None)), "switched_at": Leaf((str, None))})
#: How many differing paths a refusal names.
SHOWN_PATHS = 5


#: Releases kept on a host (prune), and path components stripped from the artifact's members.
NUMBERS = {
    "keep": validate.Limit(1, 1000, unit="releases", integer=True),
    "strip_components": validate.Limit(0, 64, unit="", integer=True),
}


class ReleaseError(Exception):
    """A release cannot be installed, switched to, or removed; the message says why and what to do."""


def validate_release(release: str, what: str = "release") -> str:
    return validate.name(release, "release", what)


def parse_checksum(checksum: Optional[str]) -> Optional[str]:
    """``sha256:<hex>`` or bare hex -> lowercase hex."""
    if checksum is None:
        return None
    value = checksum.strip()
    if ":" in value:
        algo, value = value.split(":", 1)
        if algo.lower() != "sha256":
            raise ValueError("checksum %r uses %r; give a sha256 checksum as sha256:<64 hex digits>" % (checksum, algo))
    if not _HEX_RE.fullmatch(value):
        raise ValueError("checksum %r is not a sha256 digest; give sha256:<64 hex digits>" % (checksum,))
    return value.lower()


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_manifest(root: str) -> Dict[str, str]:
    """What is under ``root`` (the marker aside), without following links: path -> ``d``, ``l:<target>`` or
    ``f:<mode>:<sha256>`` (anything else, a FIFO or device, is ``x``)."""
    out: Dict[str, str] = {}
    for base, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            path = os.path.join(base, name)
            rel = os.path.relpath(path, root)
            if rel == MARKER:
                continue
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                out[rel] = "l:" + os.readlink(path)
            elif stat.S_ISDIR(info.st_mode):
                out[rel] = "d"
            elif stat.S_ISREG(info.st_mode):
                out[rel] = "f:%o:%s" % (stat.S_IMODE(info.st_mode), sha256_file(path))
            else:
                out[rel] = "x"
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(base, d))]
    return out


def manifest_changes(recorded: Dict[str, str], found: Dict[str, str]) -> str:
    """``changed a, b; added c; removed d`` (a few names each), or "" when the trees are the same."""
    parts = []
    for label, names in (
        ("changed", sorted(k for k in recorded.keys() & found.keys() if recorded[k] != found[k])),
        ("added", sorted(found.keys() - recorded.keys())),
        ("removed", sorted(recorded.keys() - found.keys())),
    ):
        if names:
            more = " and %d more" % (len(names) - SHOWN_PATHS) if len(names) > SHOWN_PATHS else ""
            parts.append("%s %s%s" % (label, ", ".join(names[:SHOWN_PATHS]), more))
    return "; ".join(parts)


def _parts(path: str) -> List[str]:
    """The components of a member's path, empty and ``.`` ones left out."""
    return [p for p in path.split("/") if p not in ("", ".")]


def _member_path(member: tarfile.TarInfo, strip: int) -> Optional[str]:
    """Where ``member`` goes inside the release (None: stripped away); refuses an escaping name, a device or a fifo."""
    parts = _parts(member.name.replace("\\", "/"))
    if member.name.startswith("/") or ".." in parts:
        raise ReleaseError("artifact member %r escapes the release directory; rebuild the artifact" % member.name)
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise ReleaseError("artifact member %r is a device or fifo; rebuild the artifact" % member.name)
    if len(parts) <= strip:
        return None
    return "/".join(parts[strip:])


def _check_link(member: tarfile.TarInfo, rel: str, strip: int) -> None:
    """Refuses a hard link or a symlink (at ``rel`` in the release) that points outside the release."""
    target = member.linkname
    if member.islnk():
        tparts = _parts(target)
        if target.startswith("/") or ".." in tparts or len(tparts) <= strip:
            raise ReleaseError("artifact hard link %r -> %r leaves the release" % (member.name, target))
    elif member.issym():
        resolved = os.path.normpath(os.path.join(os.path.dirname(rel), target))
        if target.startswith("/") or resolved.startswith(".."):
            raise ReleaseError(
                "artifact symlink %r -> %r points outside the release; use shared paths instead" % (member.name, target)
            )


def _safe_members(tar: tarfile.TarFile, strip: int) -> List[Tuple[tarfile.TarInfo, str]]:
    """Members with their destination path; refuses anything escaping the release directory."""
    out = []
    for member in tar.getmembers():
        rel = _member_path(member, strip)
        if rel is not None:
            _check_link(member, rel, strip)
            out.append((member, rel))
    return out


Runner = Callable[[List[str]], Tuple[int, str, str]]


class ReleaseTree:
    def __init__(
        self, base_dir: str, app: str, runner: Optional[Runner] = None, clock: Callable[[], float] = time.time
    ) -> None:
        if not base_dir or not os.path.isabs(base_dir):
            raise ValueError("base_dir %r must be an absolute path, e.g. /opt" % (base_dir,))
        self.app = validate_app(app)
        self.root = os.path.join(base_dir, app)
        self.releases_dir = os.path.join(self.root, "releases")
        self.shared_dir = os.path.join(self.root, "shared")
        self.current_link = os.path.join(self.root, "current")
        self.runner = runner
        self.clock = clock

    # -- reading --

    def release_dir(self, release: str) -> str:
        return os.path.join(self.releases_dir, validate_release(release))

    def marker(self, release: str) -> Optional[Dict[str, Any]]:
        """The release's marker, or None when it has none or it cannot be read (see ``verify`` for why)."""
        try:
            return self.read_marker(release)
        except (StateError, OSError):
            return None

    def read_marker(self, release: str) -> Optional[Dict[str, Any]]:
        path = os.path.join(self.release_dir(release), MARKER)
        return load_state_file(path, MARKER_SHAPE, "it is unpacked again from the artifact")

    def is_complete(self, release: str) -> bool:
        """Our unpacks appear complete or not at all (marker + rename); see ``verify`` for whether to trust one."""
        return os.path.isdir(self.release_dir(release))

    def verify(self, release: str, checksum: Optional[str] = None) -> Dict[str, Any]:
        """Whether releases/<release> may be reused as it is.

        Returns ``{"state": "missing" | "verified" | "unverified", "reason", "sha256", "marker"}``: unverified
        with the reason when there is no marker (``marker`` False), a damaged one, a marker naming another
        release or no sha256 while one is expected, or a tree other than its manifest. A marker recording
        another artifact than ``checksum`` is a ReleaseError: a release id names one artifact.
        """
        dest = self.release_dir(release)
        out: Dict[str, Any] = {"state": "missing", "reason": None, "sha256": None, "marker": False}
        if not os.path.lexists(dest):
            return out
        if os.path.islink(dest) or not os.path.isdir(dest):
            return dict(out, state="unverified", reason="%s is not a directory" % dest)
        try:
            marker = self.read_marker(release)
        except (StateError, OSError) as exc:
            problem = exc.problem if isinstance(exc, StateFileError) else str(exc)
            return dict(out, state="unverified", marker=True, reason="its manifest %s %s" % (MARKER, problem))
        if marker is None:
            return dict(
                out,
                state="unverified",
                reason="%s has no zerodown manifest (%s): it was not unpacked by zerodown" % (dest, MARKER),
            )
        out.update(marker=True, sha256=marker.get("sha256"))
        if marker["release"] != release:
            return dict(out, state="unverified", reason="its manifest is the one of release %r" % marker["release"])
        if checksum and marker.get("sha256") and marker["sha256"] != checksum:
            raise ReleaseError(
                "release %r is already installed from an artifact with sha256 %s, not %s; release ids must "
                "name one artifact - use a new release id" % (release, marker["sha256"], checksum)
            )
        if checksum and not marker.get("sha256"):
            return dict(out, state="unverified", reason="its manifest records no artifact sha256")
        if marker.get("manifest") is not None:
            changes = manifest_changes(marker["manifest"], tree_manifest(dest))
            if changes:
                return dict(out, state="unverified", reason="its files changed since it was unpacked (%s)" % changes)
        return dict(out, state="verified")

    def live(self) -> Optional[str]:
        """The release ``current`` points at, or None before the first deploy."""
        if not os.path.islink(self.current_link):
            if os.path.exists(self.current_link):
                raise ReleaseError(
                    "%s exists but is not a symlink; move it away so zerodown can manage releases" % self.current_link
                )
            return None
        target = os.readlink(self.current_link)
        return os.path.basename(os.path.normpath(target))

    def state(self) -> Dict[str, Any]:
        """Which release is live and which ran before it, as the last switch recorded it ({} before the first)."""
        path = os.path.join(self.root, STATE)
        remedy = (
            "move it aside (mv %s %s.corrupt); the next switch writes it again, and until then a rollback needs "
            "the release to return to (release:)" % (path, path)
        )
        try:
            return load_state_file(path, STATE_SHAPE, remedy) or {}
        except StateFileError as exc:
            raise ReleaseError(str(exc)) from None

    def releases(self) -> List[str]:
        """Complete releases, oldest first (by unpack time)."""
        if not os.path.isdir(self.releases_dir):
            return []
        found = []
        for name in os.listdir(self.releases_dir):
            if name.startswith(".") or not validate.is_name(name, "release"):
                continue
            marker = self.marker(name)
            if marker is not None:
                found.append((float(marker.get("unpacked_epoch", 0)), name))
            elif os.path.isdir(os.path.join(self.releases_dir, name)):
                found.append((os.stat(os.path.join(self.releases_dir, name)).st_mtime, name))
        return [name for _unpacked, name in sorted(found)]

    def partials(self) -> List[str]:
        if not os.path.isdir(self.releases_dir):
            return []
        return sorted(
            n for n in os.listdir(self.releases_dir) if n.startswith(".") and n.endswith((".partial", ".replaced"))
        )

    # -- planning --

    def plan_prune(self, keep: int, live: Optional[str], before_live: Optional[str]) -> List[str]:
        if keep < 1:
            raise ValueError("keep must be at least 1, got %r" % (keep,))
        releases = self.releases()
        kept = set(releases[-keep:]) | {r for r in (live, before_live) if r}
        return [r for r in releases if r not in kept]

    # -- doing --

    def _ensure_dirs(self, owner: Optional[Tuple[int, int]]) -> None:
        for path in (self.root, self.releases_dir, self.shared_dir):
            if not os.path.isdir(path):
                os.makedirs(path, 0o755)
                if owner and path == self.shared_dir:
                    os.chown(path, *owner)

    def unpack(
        self,
        release: str,
        artifact: str,
        checksum: Optional[str],
        strip: int,
        owner: Optional[Tuple[int, int]],
        shared_dirs: Sequence[str] = (),
        shared_files: Sequence[str] = (),
    ) -> Dict[str, Any]:
        """Unpack ``artifact`` into releases/<release>, replacing a directory there (which ``verify`` did not
        trust) only once the new one is complete."""
        dest = self.release_dir(release)
        digest = check_artifact(artifact, checksum)
        self._ensure_dirs(owner)
        for stale in self.partials():
            _remove_path(os.path.join(self.releases_dir, stale))
        partial = os.path.join(self.releases_dir, ".%s.%d.partial" % (release, os.getpid()))
        os.mkdir(partial, 0o755)
        try:
            try:
                with tarfile.open(artifact) as tar:
                    for member, rel in _safe_members(tar, strip):
                        member.name = rel
                        if member.islnk():
                            member.linkname = "/".join(_parts(member.linkname)[strip:])
                        # no setuid/setgid/sticky, nothing group- or world-writable
                        member.mode = member.mode & 0o755
                        member.uid = member.gid = 0
                        member.uname = member.gname = ""
                        if hasattr(tarfile, "data_filter"):
                            tar.extract(member, partial, set_attrs=not member.issym(), filter="data")
                        else:
                            tar.extract(member, partial, set_attrs=not member.issym())
                    _read_to_end(tar)
            except _CORRUPT_STREAM as exc:
                if isinstance(exc, OSError) and exc.errno is not None:
                    raise  # the disk (full, read-only), not the artifact: the module names it
                raise ReleaseError(
                    "artifact %s is not a complete, intact tar archive (%s: %s): nothing was switched; it is "
                    "truncated or corrupt - fetch it again, and give its checksum so a damaged copy is refused "
                    "before unpacking" % (artifact, type(exc).__name__, " ".join(str(exc).split()))
                ) from exc
            # The release stays owned by whoever unpacks it (root): the app reads and runs it, never writes it.
            self._link_shared(partial, shared_dirs, shared_files, owner)
            now = self.clock()
            marker = {
                "release": release,
                "sha256": digest,
                "unpacked_at": iso(now),
                "unpacked_epoch": now,
                "manifest": tree_manifest(partial),
            }
            with open(os.path.join(partial, MARKER), "w", encoding="utf-8") as handle:
                json.dump(marker, handle, sort_keys=True)
            replaced = None
            if os.path.lexists(dest):
                replaced = os.path.join(self.releases_dir, ".%s.%d.replaced" % (release, os.getpid()))
                os.rename(dest, replaced)
            os.rename(partial, dest)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        if replaced is not None:
            _remove_path(replaced)
        return {"changed": True, "sha256": digest}

    def check_shared_files(self, shared_files: Sequence[str]) -> None:
        missing = [f for f in shared_files if not os.path.isfile(os.path.join(self.shared_dir, f))]
        if missing:
            raise ReleaseError(
                "shared files %s are missing under %s; create them (configuration, secrets) before deploying"
                % (", ".join(missing), self.shared_dir)
            )

    def _link_shared(
        self,
        release_path: str,
        shared_dirs: Sequence[str],
        shared_files: Sequence[str],
        owner: Optional[Tuple[int, int]],
    ) -> None:
        for rel, is_dir in [(d, True) for d in shared_dirs] + [(f, False) for f in shared_files]:
            target = os.path.join(self.shared_dir, rel)
            if is_dir and not os.path.isdir(target):
                os.makedirs(target, 0o755)
                if owner:
                    os.chown(target, *owner)
            link = os.path.join(release_path, rel)
            os.makedirs(os.path.dirname(link), 0o755, exist_ok=True)
            if os.path.isdir(link) and not os.path.islink(link):
                shutil.rmtree(link)
            elif os.path.lexists(link):
                os.unlink(link)
            os.symlink(target, link)

    def shared_not_owned(
        self, ids: Optional[Tuple[int, int]], shared_dirs: Sequence[str], shared_files: Sequence[str]
    ) -> List[str]:
        """shared/ and the shared paths there now that ``ids`` (uid, gid; -1 for either: any) does not own.

        The app writes there, so they are its own; only these, not what is inside them (a large uploads
        directory is not walked at every deploy). ``ids`` None is an account still to be created: all of them.
        """
        paths = [self.shared_dir] + [
            os.path.join(self.shared_dir, rel) for rel in list(shared_dirs) + list(shared_files)
        ]
        out = []
        for path in paths:
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            if ids is None or (ids[0] not in (-1, info.st_uid)) or (ids[1] not in (-1, info.st_gid)):
                out.append(path)
        return out

    def switch(self, release: str) -> None:
        """Point ``current`` at ``release``: a new symlink renamed over the old one (atomic)."""
        if not self.is_complete(release):
            raise ReleaseError("release %r is not installed completely under %s" % (release, self.releases_dir))
        tmp = os.path.join(self.root, ".current.%d.tmp" % os.getpid())
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(os.path.join("releases", release), tmp)
        os.rename(tmp, self.current_link)
        _fsync_dir(self.root)

    def record(self, live: Optional[str], before_live: Optional[str]) -> None:
        path = os.path.join(self.root, STATE)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"live": live, "previous": before_live, "switched_at": iso(self.clock())}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)

    def remove(self, release: str) -> None:
        shutil.rmtree(self.release_dir(release))

    def unlink_current(self) -> None:
        if os.path.islink(self.current_link):
            os.unlink(self.current_link)

    # -- services --

    def systemctl(self, *args: str) -> str:
        if self.runner is None:
            raise ReleaseError("no command runner to manage the service")
        rc, out, err = self.runner(["systemctl"] + list(args))
        if rc != 0:
            raise ReleaseError("systemctl %s failed (rc=%s): %s" % (" ".join(args), rc, (err or out).strip()))
        return out

    def start(self, service: str, restart: bool = False) -> None:
        """Start (or restart) ``service`` as a new start: its failed state and start-rate counter cleared first.

        A release that crash-looped (``Restart=on-failure``) reaches systemd's start limit in seconds
        (5 starts in 10 s by default), after which a plain start is refused ("start request repeated too
        quickly") - exactly when a rollback must start the previous release.
        """
        if self.runner is not None:
            self.runner(["systemctl", "reset-failed", service])  # nothing to reset is no error worth stopping for
        self.systemctl("restart" if restart else "start", service)

    def is_active(self, service: str) -> bool:
        if self.runner is None:
            return False
        return self.runner(["systemctl", "is-active", "--quiet", service])[0] == 0


try:  # a Python built without liblzma reads no .tar.xz at all
    from lzma import LZMAError

    _LZMA_ERRORS: Tuple[type, ...] = (LZMAError,)
except ImportError:
    _LZMA_ERRORS = ()

#: What a damaged archive raises while it is read: tar's own errors, a stream cut short (EOFError), a bad gzip
#: header or CRC (BadGzipFile, an OSError without errno, as are bz2's), zlib's and lzma's data errors.
_CORRUPT_STREAM = (tarfile.TarError, EOFError, OSError, zlib.error) + _LZMA_ERRORS


def _read_to_end(tar: tarfile.TarFile) -> None:
    """Read the compressed stream past tar's end-of-archive block to its end.

    tarfile stops at the end-of-archive block, so a gzip trailer (CRC and length), or an xz/bz2 end of stream,
    is never checked; the decompressor checks it when the stream is read to the end.
    """
    while tar.fileobj.read(1 << 20):
        pass


def check_artifact(artifact: Optional[str], checksum: Optional[str]) -> str:
    """The artifact's sha256; ReleaseError when it is not a file on this host or not the expected one."""
    if not artifact or not os.path.isfile(artifact):
        raise ReleaseError(
            "artifact %r is not a file on this host; copy it first (role zerodown.deploy.release "
            "does) or fix zerodown_artifact" % (artifact,)
        )
    digest = sha256_file(artifact)
    if checksum and digest != checksum:
        raise ReleaseError(
            "artifact %s has sha256 %s, expected %s; the file is corrupt or not the release "
            "you meant - nothing was changed" % (artifact, digest, checksum)
        )
    return digest


def _remove_path(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _needs_unpack(tree: ReleaseTree, release: str, verdict: Dict[str, Any], live: Optional[str]) -> bool:
    """Whether releases/<release> is to be unpacked (again); ReleaseError when it may not be replaced."""
    if verdict["state"] == "verified":
        return False
    if verdict["state"] == "missing":
        return True
    if release != live:
        return True
    if not verdict["marker"]:
        return False  # what runs now, installed by another tool: adopted (see the module docstring)
    raise ReleaseError(
        "release %r is live on this host but cannot be trusted: %s; nothing was changed. Its files are in use, so it "
        "is not unpacked again underneath the service: put the files back as they were, or deploy the artifact "
        "under a new release id (or switch away from %r, remove it with state=absent, and deploy it again)"
        % (release, verdict["reason"], release)
    )


def _validate_rel_paths(kind: str, paths: Sequence[str]) -> None:
    for rel in paths:
        validate.relative_path(rel, kind)


def apply_release(
    tree: ReleaseTree,
    state: str,
    release: Optional[str],
    artifact: Optional[str] = None,
    checksum: Optional[str] = None,
    strip: int = 0,
    owner: Optional[Tuple[Optional[str], Optional[str]]] = None,
    shared_dirs: Sequence[str] = (),
    shared_files: Sequence[str] = (),
    service: Optional[str] = None,
    keep: Optional[int] = None,
    check: bool = False,
    unit: Optional[Dict[str, Any]] = None,
    unit_dir: str = _unit.UNIT_DIR,
    artifact_missing: str = "fail",
    download: Optional[Callable[[], str]] = None,
    fetch_action: str = "download",
    ready: Optional[Callable[[Optional[str]], Dict[str, Any]]] = None,
    restart: bool = False,
    create_owner: bool = False,
    accounts: Optional[_account.Accounts] = None,
) -> Dict[str, Any]:
    """Plan, then (unless ``check``) do, one host's part of a deploy. Validates everything first.

    ``owner`` is (user, group), names, either None: the account the app runs as. Staging makes shared/ and the
    shared paths its own and leaves the release root-owned; with ``create_owner`` a missing user or group is
    created first (a system account, see _account).

    ``unit`` (the release module's option) is rendered and written before the switch, systemd reloaded and the unit
    enabled only when its text changed. When the release is not unpacked yet and ``artifact`` is not there (or has
    another sha256): ``download()`` fetches it and returns its path (listed in ``actions`` as ``fetch_action``);
    without it, ``artifact_missing="skip"`` returns at once with ``artifact_needed`` (nothing changed), so the caller
    can send it; otherwise it is an error.
    ``ready(release now current)`` runs after the service (re)started; its outcome is ``result["ready"]``. ``restart`` restarts the
    service even when ``current`` does not move (the unit changed when the release was staged).
    """
    if release is not None:
        validate_release(release)
    if artifact_missing not in ("fail", "skip"):
        raise ValueError("artifact_missing must be fail or skip, got %r" % (artifact_missing,))
    unit_text = None
    if unit is not None:
        if not service:
            raise ValueError("unit needs service, the name of the systemd unit to write (e.g. shop.service)")
        unit_text = _unit.render_unit(tree.app, tree.current_link, unit, writable=[tree.shared_dir])
    if service:
        _unit.validate_service(service)
    _validate_rel_paths("shared_dirs", shared_dirs)
    _validate_rel_paths("shared_files", shared_files)
    user, group = owner or (None, None)
    _account.validate_account(user, group)
    validate.numbers({"keep": keep, "strip_components": strip}, NUMBERS)

    live = tree.live()
    recorded = tree.state()
    before_live = recorded.get("previous") if recorded.get("live") == live else None
    actions: List[str] = []
    result: Dict[str, Any] = {
        "previous": live,
        "current": live,
        "release": release,
        "pruned": [],
        "restarted": False,
        "actions": actions,
    }

    needs_unpack = False
    if state in ("present", "current") and release is not None:
        verdict = tree.verify(release, checksum)
        needs_unpack = _needs_unpack(tree, release, verdict, live)
        if verdict["state"] == "verified":
            result["sha256"] = verdict["sha256"]
        elif not needs_unpack:
            result["verified"] = False  # a live release another tool installed, adopted as it is
        elif verdict["state"] == "unverified":
            result["restage_reason"] = verdict["reason"]

    if needs_unpack:
        have = bool(artifact) and os.path.isfile(artifact or "") and (not checksum or sha256_file(artifact) == checksum)
        if not have and download is not None:
            actions.append(fetch_action)
            if not check:
                artifact = download()
                have = True
        if not have and artifact_missing == "skip":
            result.update(changed=False, artifact_needed=True, releases=tree.releases(), needs_switch=True)
            return result

    target = release
    if state == "rollback":
        target = release or before_live
        if target is None:
            raise ReleaseError(
                "nothing to roll back to on this host: no previous release is recorded; give the "
                "release to return to, or use state=absent to remove a first release"
            )
        if not tree.is_complete(target):
            raise ReleaseError(
                "cannot roll back to %r: it is not installed under %s (pruned?)" % (target, tree.releases_dir)
            )
        verdict = tree.verify(target)
        if verdict["state"] != "verified" and (verdict["marker"] or target == live):
            raise ReleaseError(
                "cannot roll back to %r: %s; nothing was changed. Deploy that release again (state=current with "
                "its artifact and checksum) to unpack it afresh" % (target, verdict["reason"])
            )
        if verdict["state"] != "verified":
            result["verified"] = False  # installed by another tool and run before: adopted as it is
    ids: Optional[Tuple[int, int]] = None
    if state in ("present", "current"):
        if release is None:
            raise ValueError("state=%s needs release" % state)
        restage = needs_unpack and tree.is_complete(release)
        if needs_unpack:
            # every refusal before the first change (the account below included)
            if shared_files:
                tree.check_shared_files(shared_files)
            if restage and (not artifact or not os.path.isfile(artifact)):
                raise ReleaseError(
                    "release %r on this host cannot be trusted: %s; nothing was changed. Give its artifact (src, "
                    "artifact or url, with checksum) to unpack it again, or remove %s"
                    % (release, result["restage_reason"], tree.release_dir(release))
                )
            if not have and not (check and download is not None):  # in check mode a download is only planned
                check_artifact(artifact, checksum)
        if user is not None or group is not None:
            accounts = accounts or _account.Accounts(tree.runner)
            created, ids = accounts.ensure(user, group, create_owner, check, comment="%s (zerodown.deploy)" % tree.app)
            actions.extend(created)
            not_owned = tree.shared_not_owned(ids, shared_dirs, shared_files)
            if not_owned:
                actions.append("own shared")
                if not check:
                    for path in not_owned:
                        os.lchown(path, *(ids or (-1, -1)))
        if needs_unpack:
            actions.append("restage" if restage else "unpack")
            if not check:
                result["sha256"] = tree.unpack(
                    release, artifact or "", checksum, strip, ids, shared_dirs, shared_files
                )["sha256"]

    unit_changed = False
    if unit_text is not None:
        unit_path = os.path.join(unit_dir, service or "")
        unit_changed = _unit.read_unit(unit_path) != unit_text
        if unit_changed:
            actions.append("unit")
            if not check:
                _unit.write_unit(unit_path, unit_text)
                tree.systemctl("daemon-reload")
                tree.systemctl("enable", "--quiet", service or "")
    result["unit_changed"] = unit_changed
    result["needs_switch"] = release is not None and (live != release or unit_changed)

    if state in ("current", "rollback"):
        if live != target:
            actions.append("switch")
            if service:
                actions.append("restart")
            if not check:
                timings = result.setdefault("seconds", {})
                started = time.monotonic()
                if service:
                    tree.systemctl("stop", service)
                timings["stop"] = round(time.monotonic() - started, 3)
                started = time.monotonic()
                tree.switch(target)
                tree.record(target, live)
                timings["switch"] = round(time.monotonic() - started, 3)
                if service:
                    started = time.monotonic()
                    tree.start(service)
                    timings["start"] = round(time.monotonic() - started, 3)
                    result["restarted"] = True
            before_live = live
            result["current"] = target
        elif service and (restart or unit_changed):
            # Same release, new unit text: the running process still has the old settings.
            actions.append("restart")
            if not check:
                tree.start(service, restart=True)
                result["restarted"] = True
        elif service and not tree.is_active(service):
            actions.append("start")
            if not check:
                tree.start(service)
                result["restarted"] = True

    if state == "absent":
        if release is None:
            raise ValueError("state=absent needs release")
        if live == release:
            actions.append("unlink current")
            if service:
                actions.append("stop")
            if not check:
                if service:
                    tree.systemctl("stop", service)
                tree.unlink_current()
                tree.record(None, None)
            result["current"] = None
            before_live = None
        if os.path.isdir(tree.release_dir(release)):
            actions.append("remove")
            if not check:
                tree.remove(release)

    if keep is not None:
        # never the live release, never the one before it (the instant rollback target)
        prune = tree.plan_prune(keep, result["current"], before_live)
        if prune:
            actions.append("prune")
            result["pruned"] = prune
            if not check:
                for name in prune:
                    tree.remove(name)

    if ready is not None and state in ("current", "rollback") and not check:
        result["ready"] = ready(result["current"])

    result["changed"] = bool(actions)
    result["releases"] = tree.releases()
    return result
