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
start it again, prune. ``ReleaseEngine`` runs one operation per state of the
release module (present, current, rollback, absent, pruned) over small
option groups (``Artifact``, ``Unit``, ``Layout``, ``Readiness``); ``run`` is
the module's body (docs/architecture.md, "Where logic lives"). A release directory is complete when it carries the
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

import base64
import binascii
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tarfile
import time
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

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
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import redact, scrub, secrets_in, url_secrets
from ansible_collections.zerodown.deploy.plugins.module_utils.probe import readiness as http

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


# -- the release engine: one host's part of a deploy, one operation per state ------------------------------------


@dataclass(frozen=True)
class Artifact:
    """Where a release comes from when the host has to unpack it.

    ``path`` is the artifact on this host, ``checksum`` its sha256 (hex, see ``parse_checksum``) and ``strip`` the
    path components stripped from its members. When the release is not unpacked yet and ``path`` is not there (or
    has another sha256), ``fetch()`` gets it and returns its path (listed in ``actions`` as ``fetch_action``);
    without it, ``missing="skip"`` returns at once with ``artifact_needed`` (nothing changed), so the caller can
    send it; otherwise it is an error.
    """

    path: Optional[str] = None
    checksum: Optional[str] = None
    strip: int = 0
    missing: str = "fail"
    fetch: Optional[Callable[[], str]] = None
    fetch_action: str = "download"


@dataclass(frozen=True)
class Unit:
    """The service: ``service`` is the systemd unit's name. ``options`` (the release module's ``unit`` option) is
    rendered and written to ``unit_dir`` before the switch, systemd reloaded and the unit enabled only when its
    text changed. ``restart`` restarts the service even when ``current`` does not move (the unit changed when the
    release was staged)."""

    service: Optional[str] = None
    options: Optional[Dict[str, Any]] = None
    unit_dir: str = _unit.UNIT_DIR
    restart: bool = False


@dataclass(frozen=True)
class Layout:
    """The account the app runs as (``user``, ``group``: names, either None) and its shared paths. Staging makes
    shared/ and the shared paths its own and leaves the release root-owned; with ``create_owner`` a missing user or
    group is created first (a system account, see _account)."""

    user: Optional[str] = None
    group: Optional[str] = None
    create_owner: bool = False
    shared_dirs: Sequence[str] = ()
    shared_files: Sequence[str] = ()


@dataclass(frozen=True)
class Readiness:
    """The ``ready`` option: the HTTP probe the host runs on itself once the service (re)started, called with the
    release now current. ``version_header`` names the header that must carry that release; ``watch`` makes the
    UnitWatch that ends the wait as soon as the service is known to be broken."""

    options: Dict[str, Any]
    version_header: Optional[str] = None
    watch: Optional[Callable[[], Any]] = None

    @classmethod
    def from_params(cls, params: Optional[Dict[str, Any]], watch: Optional[Callable[[], Any]] = None):
        """None without the option; every option checked here, before anything changes."""
        if params is None:
            return None
        options = dict(params)
        version_header = options.pop("version_header", None)
        try:
            http.build_readiness_specs(options)
        except http.HttpOptionError as exc:
            raise ValueError("ready.%s" % exc) from None
        return cls(options, version_header, watch)

    def __call__(self, release: Optional[str]) -> Dict[str, Any]:
        wanted = dict(self.options)
        if self.version_header:
            wanted["expect_header"] = dict(wanted.get("expect_header") or {}, **{self.version_header: release})
        specs, timeout, interval, successes = http.build_readiness_specs(wanted)
        broken = self.watch() if self.watch is not None else None
        return http.wait_ready(http.HttpChecker(), specs, timeout, interval, successes, broken=broken)


def _timed(timings: Dict[str, float], name: str, step: Callable[[], None]) -> None:
    started = time.monotonic()
    step()
    timings[name] = round(time.monotonic() - started, 3)


class ReleaseEngine:
    """One host's part of a deploy: plan, then (unless ``check``) do. Everything is validated when the engine is
    made, before anything is read or changed; ``apply(state)`` runs the operation of that state, one method each
    (``present``, ``current``, ``rollback``, ``absent``, ``pruned``), and returns the module's result.

    ``keep`` prunes the releases beyond that many after any operation (never the live release, never the one
    before it). ``ready(release now current)`` runs after ``current`` and ``rollback``; its outcome is
    ``result["ready"]``. ``accounts`` stands in for _account.Accounts (tests).
    """

    def __init__(
        self,
        tree: ReleaseTree,
        release: Optional[str],
        artifact: Artifact = Artifact(),
        unit: Unit = Unit(),
        layout: Layout = Layout(),
        ready: Optional[Callable[[Optional[str]], Dict[str, Any]]] = None,
        keep: Optional[int] = None,
        check: bool = False,
        accounts: Optional[_account.Accounts] = None,
    ) -> None:
        if release is not None:
            validate_release(release)
        if artifact.missing not in ("fail", "skip"):
            raise ValueError("artifact_missing must be fail or skip, got %r" % (artifact.missing,))
        self.unit_text = None
        if unit.options is not None:
            if not unit.service:
                raise ValueError("unit needs service, the name of the systemd unit to write (e.g. shop.service)")
            self.unit_text = _unit.render_unit(tree.app, tree.current_link, unit.options, writable=[tree.shared_dir])
        if unit.service:
            _unit.validate_service(unit.service)
        _validate_rel_paths("shared_dirs", layout.shared_dirs)
        _validate_rel_paths("shared_files", layout.shared_files)
        _account.validate_account(layout.user, layout.group)
        validate.numbers({"keep": keep, "strip_components": artifact.strip}, NUMBERS)
        self.tree, self.release, self.artifact, self.unit, self.layout = tree, release, artifact, unit, layout
        self.ready, self.keep, self.check, self.accounts = ready, keep, check, accounts
        self.artifact_path = artifact.path  # a fetch replaces it
        self.needs_unpack = self.have = False
        self.live: Optional[str] = None
        self.before_live: Optional[str] = None
        self.actions: List[str] = []
        self.result: Dict[str, Any] = {}

    def apply(self, state: str) -> Dict[str, Any]:
        operations = {
            "present": self.present,
            "current": self.current,
            "rollback": self.rollback,
            "absent": self.absent,
            "pruned": self.pruned,
        }
        if state not in operations:
            raise ValueError("state must be one of %s, got %r" % (", ".join(operations), state))
        return operations[state]()

    # -- the operations --

    def present(self) -> Dict[str, Any]:
        """Stage the release (unpack it unless a verified copy is there, write the unit); ``current`` stays."""
        self._begin("present")
        if not self._stage():
            return self.result
        self._write_unit()
        self._prune()
        return self._done()

    def current(self) -> Dict[str, Any]:
        """Stage the release, then make it current: the service stopped, ``current`` swapped, the service started
        (or only restarted, or started, when ``current`` is already the release)."""
        self._begin("current")
        if not self._stage():
            return self.result
        self._write_unit()
        self._go_live(self.release or "")
        self._prune()
        return self._ready()

    def rollback(self) -> Dict[str, Any]:
        """Return to the release given, or to the one live before the last switch."""
        self._begin("rollback")
        target = self._rollback_target()
        self._write_unit()
        self._go_live(target)
        self._prune()
        return self._ready()

    def absent(self) -> Dict[str, Any]:
        """Remove the release; when it is live, the service stops and ``current`` goes away with it."""
        self._begin("absent")
        self._write_unit()
        self._take_down()
        self._prune()
        return self._done()

    def pruned(self) -> Dict[str, Any]:
        """Only prune (and write the unit, when given)."""
        self._begin("pruned")
        self._write_unit()
        self._prune()
        return self._done()

    # -- the steps --

    def _begin(self, state: str) -> None:
        """Read which release is live and which ran before it; the release is required except to roll back or
        prune."""
        self.live = self.tree.live()
        recorded = self.tree.state()
        self.before_live = recorded.get("previous") if recorded.get("live") == self.live else None
        self.actions = []
        self.result = {
            "previous": self.live,
            "current": self.live,
            "release": self.release,
            "pruned": [],
            "restarted": False,
            "actions": self.actions,
        }
        if self.release is None and state in ("present", "current", "absent"):
            raise ValueError("state=%s needs release" % state)

    def _stage(self) -> bool:
        """The release unpacked (unless a verified copy is there) and shared/ owned by the app's account. False when
        the artifact is needed first (``artifact.missing="skip"``): nothing changed."""
        self._plan_unpack()
        if self.needs_unpack and not self._fetch():
            self.result.update(changed=False, artifact_needed=True, releases=self.tree.releases(), needs_switch=True)
            return False
        restage = self.needs_unpack and self.tree.is_complete(self.release or "")
        if self.needs_unpack:
            self._refuse_what_cannot_be_staged(restage)  # every refusal before the first change (the account's too)
        ids = self._own_shared()
        if self.needs_unpack:
            self.actions.append("restage" if restage else "unpack")
            if not self.check:
                a, layout = self.artifact, self.layout
                unpacked = self.tree.unpack(
                    self.release or "",
                    self.artifact_path or "",
                    a.checksum,
                    a.strip,
                    ids,
                    layout.shared_dirs,
                    layout.shared_files,
                )
                self.result["sha256"] = unpacked["sha256"]
        return True

    def _plan_unpack(self) -> None:
        release = self.release or ""
        verdict = self.tree.verify(release, self.artifact.checksum)
        self.needs_unpack = _needs_unpack(self.tree, release, verdict, self.live)
        if verdict["state"] == "verified":
            self.result["sha256"] = verdict["sha256"]
        elif not self.needs_unpack:
            self.result["verified"] = False  # a live release another tool installed, adopted as it is
        elif verdict["state"] == "unverified":
            self.result["restage_reason"] = verdict["reason"]

    def _fetch(self) -> bool:
        """Whether the artifact is (or, in check mode, would be) on this host; fetches it when it is not."""
        a, path = self.artifact, self.artifact_path
        self.have = bool(path) and os.path.isfile(path or "") and (not a.checksum or sha256_file(path) == a.checksum)
        if not self.have and a.fetch is not None:
            self.actions.append(a.fetch_action)
            if not self.check:
                self.artifact_path = a.fetch()
                self.have = True
        return self.have or a.missing != "skip"

    def _refuse_what_cannot_be_staged(self, restage: bool) -> None:
        if self.layout.shared_files:
            self.tree.check_shared_files(self.layout.shared_files)
        path = self.artifact_path
        if restage and (not path or not os.path.isfile(path)):
            raise ReleaseError(
                "release %r on this host cannot be trusted: %s; nothing was changed. Give its artifact (src, "
                "artifact or url, with checksum) to unpack it again, or remove %s"
                % (self.release, self.result["restage_reason"], self.tree.release_dir(self.release or ""))
            )
        if not self.have and not (self.check and self.artifact.fetch is not None):  # check mode only plans a fetch
            check_artifact(path, self.artifact.checksum)

    def _own_shared(self) -> Optional[Tuple[int, int]]:
        """The app's account (created when asked) and its ids; shared/ and the shared paths made its own."""
        layout = self.layout
        if layout.user is None and layout.group is None:
            return None
        accounts = self.accounts or _account.Accounts(self.tree.runner)
        created, ids = accounts.ensure(
            layout.user, layout.group, layout.create_owner, self.check, comment="%s (zerodown.deploy)" % self.tree.app
        )
        self.actions.extend(created)
        not_owned = self.tree.shared_not_owned(ids, layout.shared_dirs, layout.shared_files)
        if not_owned:
            self.actions.append("own shared")
            if not self.check:
                for path in not_owned:
                    os.lchown(path, *(ids or (-1, -1)))
        return ids

    def _rollback_target(self) -> str:
        target = self.release or self.before_live
        if target is None:
            raise ReleaseError(
                "nothing to roll back to on this host: no previous release is recorded; give the "
                "release to return to, or use state=absent to remove a first release"
            )
        if not self.tree.is_complete(target):
            raise ReleaseError(
                "cannot roll back to %r: it is not installed under %s (pruned?)" % (target, self.tree.releases_dir)
            )
        verdict = self.tree.verify(target)
        # a damaged manifest refuses; a release without one (another tool installed it) is adopted as it is, as
        # state=current does, live or not: a host drained and never moved still runs it, and goes back to nothing
        if verdict["state"] != "verified" and verdict["marker"]:
            raise ReleaseError(
                "cannot roll back to %r: %s; nothing was changed. Deploy that release again (state=current with "
                "its artifact and checksum) to unpack it afresh" % (target, verdict["reason"])
            )
        if verdict["state"] != "verified":
            self.result["verified"] = False  # installed by another tool and run before: adopted as it is
        return target

    def _write_unit(self) -> None:
        """The unit written when its text changed; whether the release still needs a switch."""
        unit_changed = False
        if self.unit_text is not None:
            service = self.unit.service or ""
            unit_path = os.path.join(self.unit.unit_dir, service)
            unit_changed = _unit.read_unit(unit_path) != self.unit_text
            if unit_changed:
                self.actions.append("unit")
                if not self.check:
                    _unit.write_unit(unit_path, self.unit_text)
                    self.tree.systemctl("daemon-reload")
                    self.tree.systemctl("enable", "--quiet", service)
        self.result["unit_changed"] = unit_changed
        self.result["needs_switch"] = self.release is not None and (self.live != self.release or unit_changed)

    def _go_live(self, target: str) -> None:
        """``target`` current and its service running: switched to, or (re)started when it is current already."""
        service = self.unit.service
        if self.live != target:
            self._switch(target)
        elif service and (self.unit.restart or self.result["unit_changed"]):
            # Same release, new unit text: the running process still has the old settings.
            self._start("restart", restart=True)
        elif service and not self.tree.is_active(service):
            self._start("start")

    def _start(self, action: str, restart: bool = False) -> None:
        self.actions.append(action)
        if not self.check:
            self.tree.start(self.unit.service or "", restart=restart)
            self.result["restarted"] = True

    def _switch(self, target: str) -> None:
        """The service stopped, ``current`` swapped to ``target`` and recorded, the service started; timed."""
        service, tree = self.unit.service, self.tree
        self.actions.append("switch")
        if service:
            self.actions.append("restart")
        if not self.check:
            live = self.live

            def stop() -> None:
                if service:
                    tree.systemctl("stop", service)

            def swap() -> None:
                tree.switch(target)
                tree.record(target, live)

            timings = self.result.setdefault("seconds", {})
            _timed(timings, "stop", stop)
            _timed(timings, "switch", swap)
            if service:
                _timed(timings, "start", lambda: tree.start(service))
                self.result["restarted"] = True
        self.before_live = self.live
        self.result["current"] = target

    def _take_down(self) -> None:
        """The release removed; when it is live, its service stopped and ``current`` unlinked first."""
        release, service, tree = self.release or "", self.unit.service, self.tree
        if self.live == release:
            self.actions.append("unlink current")
            if service:
                self.actions.append("stop")
            if not self.check:
                if service:
                    tree.systemctl("stop", service)
                tree.unlink_current()
                tree.record(None, None)
            self.result["current"] = None
            self.before_live = None
        if os.path.isdir(tree.release_dir(release)):
            self.actions.append("remove")
            if not self.check:
                tree.remove(release)

    def _prune(self) -> None:
        if self.keep is None:
            return
        # never the live release, never the one before it (the instant rollback target)
        prune = self.tree.plan_prune(self.keep, self.result["current"], self.before_live)
        if prune:
            self.actions.append("prune")
            self.result["pruned"] = prune
            if not self.check:
                for name in prune:
                    self.tree.remove(name)

    def _ready(self) -> Dict[str, Any]:
        if self.ready is not None and not self.check:
            self.result["ready"] = self.ready(self.result["current"])
        return self._done()

    def _done(self) -> Dict[str, Any]:
        self.result["changed"] = bool(self.actions)
        self.result["releases"] = self.tree.releases()
        return self.result


# -- the release module ---------------------------------------------------------------------------------------------


def _fetched_path(tmpdir: Callable[[], str]) -> str:
    """Where a fetched artifact (downloaded, or carried by the call) is written: the module's private tmpdir."""
    return os.path.join(tmpdir(), "artifact")


def _downloader(tmpdir: Callable[[], str], url: Optional[str]) -> Optional[Callable[[], str]]:
    if url is None:
        return None
    http.validate_url(url, "url")  # http(s), a host, a port that parses: "http://[::1/" is an error, not a traceback

    def download() -> str:
        # imported here: ansible.module_utils.urls (and the TLS stack under it) costs every other call of this module
        # tens of milliseconds per start, more on a loaded host, and only a download needs it
        from ansible.module_utils.urls import open_url

        dest = _fetched_path(tmpdir)
        try:
            response = open_url(url, validate_certs=True, timeout=60)
            with open(dest, "wb") as handle:
                shutil.copyfileobj(response, handle)
        except Exception as exc:  # noqa: BLE001 - urllib, socket and TLS errors alike become one message
            raise ReleaseError("could not download %s: %s" % (redact(url), redact(exc, url_secrets(url)))) from exc
        return dest

    return download


def _inline_artifact(tmpdir: Callable[[], str], content: Optional[str]) -> Optional[Callable[[], str]]:
    """The ``content`` option as a fetch: the artifact the call carried, written where a download goes."""
    if content is None:
        return None
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "content is not base64: give the artifact base64-encoded, or use src, artifact or url"
        ) from None

    def write() -> str:
        dest = _fetched_path(tmpdir)
        with open(dest, "wb") as handle:
            handle.write(data)
        return dest

    return write


def _os_error_message(p: Mapping[str, Any], exc: OSError) -> str:
    """What a failed file operation means for the user: a full disk is not a permissions problem."""
    where = os.path.join(p["base_dir"], p["app"])
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            "release %s of %s: %s: the filesystem of %s is full; nothing was switched and the partial release was "
            "removed: free space there (or keep fewer releases, zerodown_keep_releases) and deploy again"
            % (p["release"], p["app"], exc.strerror, where)
        )
    return "release %s of %s: %s; check permissions under %s (become: true)" % (p["release"], p["app"], exc, where)


def engine_from_params(
    p: Mapping[str, Any], check_mode: bool, run_command: Runner, tmpdir: Callable[[], str]
) -> ReleaseEngine:
    """The release module's options as an engine, each option group built once (and checked) in the order the
    options are read."""
    checksum = parse_checksum(p["checksum"])
    tree = ReleaseTree(p["base_dir"], p["app"], runner=run_command)
    artifact = Artifact(
        p["artifact"],
        checksum,
        p["strip_components"],
        p["artifact_missing"],
        fetch=_inline_artifact(tmpdir, p["content"]) or _downloader(tmpdir, p["url"]),
        fetch_action="transfer" if p["content"] is not None else "download",
    )
    watch = (lambda: _unit.UnitWatch(run_command, p["service"])) if p["service"] else None
    return ReleaseEngine(
        tree,
        p["release"],
        artifact=artifact,
        unit=Unit(p["service"], p["unit"], restart=p["restart"]),
        layout=Layout(p["owner"] or None, p["group"] or None, p["create_owner"], p["shared_dirs"], p["shared_files"]),
        ready=Readiness.from_params(p["ready"], watch),
        keep=p["keep"],
        check=check_mode,
    )


def run(
    params: Mapping[str, Any], check_mode: bool, *, run_command: Runner, tmpdir: Callable[[], str]
) -> Dict[str, Any]:
    """The release module: ``run_command`` and ``tmpdir()`` (where a fetched artifact is written) are the module's.

    Fails without a result when the call is refused or a file operation fails; with the result when the release,
    now current, does not answer ready."""
    # Credentials in a URL's user-info (the artifact's, the readiness probe's) are masked wherever they would appear.
    secrets = secrets_in(params)
    if params["src"] is not None:
        raise ModuleFailure("src is sent by the zerodown.deploy.release action plugin; call the module through it")
    try:
        result = engine_from_params(params, check_mode, run_command, tmpdir).apply(params["state"])
    except (ValueError, ReleaseError, _account.AccountError) as exc:
        raise ModuleFailure(redact(exc, secrets)) from exc
    except OSError as exc:
        raise ModuleFailure(_os_error_message(params, exc)) from exc
    result = scrub(result, secrets)
    result["diff"] = dict(
        before={"current": result["previous"]},
        after={"current": result["current"], "pruned": result["pruned"]},
    )
    ready = result.get("ready")
    if ready is not None and not ready["ready"]:
        raise ModuleFailure(
            "%s %s of %s is not ready: %s" % (params["state"], result["current"], params["app"], ready["msg"]), result
        )
    return result
