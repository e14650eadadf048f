# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: deploy state on a shared host.

A deploy keeps two records on the load-balancer host, where every controller
(and every ``serial`` batch, and the rescue) can read them:

* the *lock* (``deploy.lock``): one deploy per application at a time, with a
  TTL, an audited takeover of a stale lock and an audited force break;
* the *ledger* (``ledger.json``, see ``_ledger.py``): what moved.

``StateDir`` is the one place that knows how those files are written: a
private directory (0700), files 0600, writes that are atomic (temporary file,
fsync, rename/link, fsync of the directory) and an ``flock`` guard so that
read-decide-write sequences of concurrent module runs never interleave.

Every file is read back through ``load_state_file`` with the shape it must
have (``Obj``, ``ListOf``, ``MapOf``, ``Leaf``): a file that is not JSON, not
an object, too large, not a regular file, or has a field of the wrong type is
a ``StateFileError`` naming the file, the field, what was expected and what
to do, never a ``TypeError`` deep in a module. The collection wrote these
files, but a person, a full disk or another tool may have been there since.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import hashlib
import json
import math
import os
import re
import socket
import stat
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import redact

LOCK_FILE = "deploy.lock"
AUDIT_FILE = "audit.log"
GUARD_FILE = ".guard"


#: No state file the collection writes comes near this; a larger one is refused before it is read.
MAX_STATE_BYTES = 16 * 1024 * 1024


class StateError(Exception):
    """A state file could not be read or written (permissions, corrupt JSON)."""


class StateFileError(StateError):
    """A state file is there but is not what zerodown writes: the message names file, field, expectation, remedy."""

    def __init__(self, path: str, problem: str, remedy: str, size: int = 0, sha256: str = "") -> None:
        super().__init__(
            "%s %s; it is not a file zerodown wrote as it is now (corrupt, truncated or edited by hand): %s"
            % (path, problem, remedy)
        )
        self.path = path
        self.problem = problem
        self.size = size
        self.sha256 = sha256

    def evidence(self) -> Dict[str, Any]:
        """What an audit entry records of the unreadable file (never its content)."""
        return {"corrupt": self.problem, "file": self.path, "size": self.size, "sha256": self.sha256}


# -- the shapes state files must have ---------------------------------------------------------

_NUMBER = (int, float)


class Leaf:
    """A JSON scalar of the given Python types (``None`` in ``types`` allows null), optionally one of ``choices``."""

    def __init__(self, types: Union[type, Tuple[Any, ...]], choices: Sequence[Any] = ()) -> None:
        self.types = types if isinstance(types, tuple) else (types,)
        self.choices = tuple(choices)

    def expected(self) -> str:
        names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", None: "null"}
        words = [names.get(t, getattr(t, "__name__", str(t))) for t in self.types]
        if int in self.types and float in self.types:
            words = [w for w in words if w not in ("an integer", "a number")] + ["a finite number"]
        text = " or ".join(words)
        if self.choices:
            text += " (one of %s)" % ", ".join(str(c) for c in self.choices)
        return text

    def problem(self, value: Any) -> Optional[str]:
        if value is None:
            return None if None in self.types else "is null"
        if isinstance(value, bool) and bool not in self.types:
            return "is %s" % json.dumps(value)
        if not isinstance(value, tuple(t for t in self.types if t is not None)):
            return "is %s" % _json_kind(value)
        if isinstance(value, float) and not math.isfinite(value):
            return "is %s" % value
        if self.choices and value not in self.choices:
            return "is %r" % (value,)
        return None


class _Container:
    """A list or an object, optionally null."""

    kind = "a JSON object"

    def __init__(self, nullable: bool) -> None:
        self.nullable = nullable

    def expected(self) -> str:
        return ("null or " if self.nullable else "") + self.kind


class ListOf(_Container):
    kind = "a list"

    def __init__(self, item: Any, nullable: bool = False) -> None:
        super().__init__(nullable)
        self.item = item


class MapOf(_Container):
    """A JSON object with any keys, every value of one shape."""

    def __init__(self, value: Any, nullable: bool = False) -> None:
        super().__init__(nullable)
        self.value = value


class Obj(_Container):
    """A JSON object with known fields; unknown fields are kept (a newer version may add some)."""

    def __init__(self, fields: Dict[str, Any], required: Sequence[str] = (), nullable: bool = False) -> None:
        super().__init__(nullable)
        self.fields = fields
        self.required = tuple(required)


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string (%r)" % (value[:40],)
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return "a number (%r)" % (value,)
    return "null" if value is None else type(value).__name__


def shape_problem(value: Any, shape: Any, where: str) -> Optional[Tuple[str, str]]:
    """(field path, what is wrong) for the first place ``value`` does not have ``shape``, else None."""
    if isinstance(shape, Leaf):
        problem = shape.problem(value)
        return (where, "%s, expected %s" % (problem, shape.expected())) if problem else None
    if value is None and shape.nullable:
        return None
    if isinstance(shape, ListOf):
        if not isinstance(value, list):
            return where, "is %s, expected %s" % (_json_kind(value), shape.expected())
        for index, item in enumerate(value):
            found = shape_problem(item, shape.item, "%s[%d]" % (where, index))
            if found:
                return found
        return None
    if not isinstance(value, dict):
        return where, "is %s, expected %s" % (_json_kind(value), shape.expected())
    if isinstance(shape, MapOf):
        for key, item in value.items():
            found = shape_problem(item, shape.value, "%s[%s]" % (where, json.dumps(key)))
            if found:
                return found
        return None
    for name in shape.required:
        if name not in value:
            return "%s.%s" % (where, name) if where else name, "is missing"
    for name, field_shape in shape.fields.items():
        if name in value:
            found = shape_problem(value[name], field_shape, "%s.%s" % (where, name) if where else name)
            if found:
                return found
    return None


def load_state_file(path: str, shape: Obj, remedy: str, max_bytes: int = MAX_STATE_BYTES) -> Optional[Dict[str, Any]]:
    """The JSON object in ``path`` checked against ``shape``; None if there is no file.

    Refuses (StateFileError) a symlink, a FIFO or device, a file over ``max_bytes``, text that is not
    UTF-8 JSON, JSON that is not an object, and any field of the wrong type, without reading more than
    ``max_bytes`` and without quoting the content.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StateFileError(path, "is a symbolic link (zerodown writes regular files)", remedy) from None
        raise StateError("cannot read %s: %s" % (path, exc.strerror or exc)) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StateFileError(path, "is not a regular file", remedy)
        if info.st_size > max_bytes:
            raise StateFileError(
                path,
                "is %d bytes, more than the %d a zerodown state file ever needs" % (info.st_size, max_bytes),
                remedy,
                size=info.st_size,
            )
        raw = validate.read_bounded(fd, max_bytes)
    except OSError as exc:
        raise StateError("cannot read %s: %s" % (path, exc.strerror or exc)) from exc
    finally:
        os.close(fd)
    digest = hashlib.sha256(raw).hexdigest()
    if len(raw) > max_bytes:
        raise StateFileError(path, "grew past %d bytes while it was read" % max_bytes, remedy, len(raw), digest)

    def refuse(problem: str) -> StateFileError:
        return StateFileError(path, problem, remedy, size=len(raw), sha256=digest)

    try:
        data = validate.json_document(raw.decode("utf-8"), "the file", parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise refuse("is not UTF-8 text") from None
    except ValueError as exc:
        raise refuse("is not valid JSON (%s)" % exc) from None
    if not isinstance(data, dict):
        raise refuse("holds %s, expected a JSON object" % _json_kind(data))
    found = shape_problem(data, shape, "")
    if found:
        raise refuse("field %s %s" % found)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError("%s is not a number zerodown writes" % name)


class LockHeld(Exception):
    """Another live deploy holds the lock."""

    def __init__(self, message: str, holder: Dict[str, Any]) -> None:
        super().__init__(message)
        self.holder = holder


class NotOwner(Exception):
    """Releasing a lock that belongs to another run, without force."""

    def __init__(self, message: str, holder: Dict[str, Any]) -> None:
        super().__init__(message)
        self.holder = holder


LOCK_SHAPE = Obj(
    {
        "app": Leaf(str),
        "owner": Leaf((str, None)),
        "controller": Leaf((str, None)),
        "controller_process": Leaf((str, None)),
        "lock_host": Leaf((str, None)),
        "release": Leaf((str, None)),
        "run_id": Leaf(str),
        "pid": Leaf((int, None)),
        "ttl": Leaf(_NUMBER),
        "started_at": Leaf((str, None)),
        "started_epoch": Leaf(_NUMBER),
        "expires_at": Leaf((str, None)),
        "expires_epoch": Leaf(_NUMBER),
        "refreshed_at": Leaf((str, None)),
    },
    required=("run_id", "started_epoch", "expires_epoch"),
)


def lock_time_problem(holder: Dict[str, Any], now: float) -> Optional[str]:
    """What makes a lock's times impossible for a lock this collection wrote, or None.

    A lock is written with a TTL of at most MAX_SECONDS from the lock host's clock: one that expires further
    ahead (1e300), started in the far future or expires before it started is no lock anyone holds, and read as
    live it would block every deploy for ever.
    """
    started, expires = float(holder["started_epoch"]), float(holder["expires_epoch"])
    ttl = holder.get("ttl")
    if ttl is not None and not 0 < float(ttl) <= validate.MAX_SECONDS:
        return "field ttl is %s, not 1 to %d seconds" % (ttl, validate.MAX_SECONDS)
    if started < 0 or started > now + validate.MAX_SECONDS:
        return "field started_epoch is %s, not a time a lock was taken (now is %d)" % (started, now)
    if expires < started:
        return "field expires_epoch is %s, before started_epoch %s" % (expires, started)
    if expires > now + validate.MAX_SECONDS:
        return "field expires_epoch is %s, more than the longest TTL (%d seconds) after now (%d)" % (
            expires,
            validate.MAX_SECONDS,
            now,
        )
    return None


def validate_app(app: str, what: str = "app") -> str:
    """Application names become directory names: no slashes, no dot-dot, no trailing newline."""
    return validate.name(app, "app", what)


def iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class StateDir:
    """``<root>/<app>/`` with private, atomically written JSON files."""

    def __init__(self, root: str, app: str) -> None:
        if not root or not os.path.isabs(root):
            raise ValueError("path %r must be an absolute directory path, e.g. /var/lib/zerodown" % (root,))
        self.root = root
        self.app = validate_app(app)
        self.path = os.path.join(root, self.app)

    def exists(self) -> bool:
        if not os.path.lexists(self.path):
            return False
        self._check_real_directory()
        return True

    def _check_real_directory(self) -> None:
        """The state directory is a directory of its own, not a symlink (which chmod and every write would follow
        to wherever it points) nor another kind of file."""
        try:
            mode = os.lstat(self.path).st_mode
        except OSError as exc:
            raise StateError("cannot inspect %s: %s" % (self.path, exc.strerror or exc)) from exc
        if stat.S_ISLNK(mode):
            raise StateError(
                "%s is a symlink (to %s), not a directory: nothing was written there nor changed where it points; "
                "remove the link (zerodown creates the directory itself, mode 0700)"
                % (self.path, os.readlink(self.path))
            )
        if not stat.S_ISDIR(mode):
            kind = "a regular file" if stat.S_ISREG(mode) else validate.file_kind(mode)
            raise StateError(
                "%s is %s, not a directory: remove it or choose another state directory" % (self.path, kind)
            )

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def ensure(self) -> None:
        os.makedirs(self.root, mode=0o755, exist_ok=True)
        try:
            os.mkdir(self.path, 0o700)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
        self._check_real_directory()
        # through a descriptor that refuses a symlink: a link put in place after the check is not followed either
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            os.fchmod(fd, 0o700)
        finally:
            os.close(fd)

    def guarded(self, action: Callable[[], Any]) -> Any:
        """Run ``action`` holding an exclusive flock on the directory's guard file."""
        self.ensure()
        fd = os.open(self.file(GUARD_FILE), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return action()
        finally:
            os.close(fd)

    def read_json(self, name: str, shape: Obj, remedy: str) -> Optional[Dict[str, Any]]:
        """``name`` checked against ``shape`` (see load_state_file); None if absent."""
        return load_state_file(self.file(name), shape, remedy)

    def move_aside(self, name: str) -> str:
        """Rename an unreadable ``name`` to ``name.corrupt-<UTC time>`` (kept for inspection); returns the new path."""
        target = self.file("%s.corrupt-%s" % (name, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())))
        if os.path.lexists(target):
            target = "%s.%d" % (target, time.monotonic_ns())
        os.rename(self.file(name), target)
        self._sync_dir()
        return target

    def _write_tmp(self, name: str, data: Dict[str, Any]) -> str:
        tmp = self.file(".%s.%d.%d.tmp" % (name, os.getpid(), time.monotonic_ns()))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, json.dumps(data, sort_keys=True, indent=1).encode("utf-8") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        return tmp

    def _sync_dir(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def create_json(self, name: str, data: Dict[str, Any]) -> bool:
        """Create ``name`` only if absent (link(2) is atomic and O_EXCL-like).

        The content is complete before the name appears, so a reader never
        sees an empty or half-written lock. Returns False if it existed.
        """
        tmp = self._write_tmp(name, data)
        try:
            os.link(tmp, self.file(name))
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        self._sync_dir()
        return True

    def replace_json(self, name: str, data: Dict[str, Any]) -> None:
        tmp = self._write_tmp(name, data)
        os.rename(tmp, self.file(name))
        self._sync_dir()

    def remove(self, name: str) -> bool:
        try:
            os.unlink(self.file(name))
        except FileNotFoundError:
            return False
        self._sync_dir()
        return True

    def audit(self, event: str, **fields: Any) -> Dict[str, Any]:
        """Append one JSON line to the audit log (0600, fsynced)."""
        entry = {"at": iso(time.time()), "event": event, "app": self.app}
        entry.update(fields)
        fd = os.open(self.file(AUDIT_FILE), os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        try:
            line = json.dumps(entry, sort_keys=True).encode("utf-8") + b"\n"
            # a log cut off mid-line (a full disk, a crash) gets its own line ended first: a record glued onto
            # the broken one would be lost with it to any reader
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def audit_entries(self) -> List[Dict[str, Any]]:
        try:
            with open(self.file(AUDIT_FILE), "rb") as handle:
                lines = [line for line in handle if line.strip()]
        except FileNotFoundError:
            return []
        return [_audit_entry(line) for line in lines]


def _audit_entry(line: bytes) -> Dict[str, Any]:
    """One audit line; a line that is not a record (cut off by a crash) is kept as what it is, not a traceback."""
    try:
        entry = validate.json_document(line.decode("utf-8"), "audit line", max_depth=10)
    except ValueError:  # UnicodeDecodeError too
        entry = None
    if isinstance(entry, dict):
        return entry
    return {"event": "unreadable", "line": line.decode("utf-8", "replace").strip()[:200]}


def describe(holder: Dict[str, Any], now: float) -> str:
    """The holder as a person wants to read it in a refusal message."""
    age = max(0, int(now - float(holder.get("started_epoch", now))))
    expires = int(float(holder.get("expires_epoch", now)) - now)
    return "owner %r on controller %r (release %r, run id %r, pid %s) since %s (age %ds, %s)" % (
        holder.get("owner"),
        holder.get("controller"),
        holder.get("release"),
        holder.get("run_id"),
        holder.get("pid"),
        holder.get("started_at"),
        age,
        "expires in %ds" % expires if expires > 0 else "expired %ds ago" % -expires,
    )


class DeployLock:
    """One deploy per application: acquire, refresh, release, inspect, break.

    Identity is the ``run_id`` (one per playbook run), not the owner name: the
    same person may start two deploys, and the second must be refused.
    """

    def __init__(self, state_dir: StateDir, clock: Callable[[], float] = time.time) -> None:
        self.dir = state_dir
        self.clock = clock

    def remedy(self) -> str:
        return (
            "break it with force: true (audited; the file is kept beside it as %s.corrupt-<time>), or move it "
            "aside by hand once you know no deploy of %r is running" % (LOCK_FILE, self.dir.app)
        )

    def read(self) -> Optional[Dict[str, Any]]:
        """The holder, schema-checked; None when no lock is held. Raises StateFileError for an unreadable lock."""
        if not self.dir.exists():
            return None
        holder = self.dir.read_json(LOCK_FILE, LOCK_SHAPE, self.remedy())
        if holder is not None:
            problem = lock_time_problem(holder, self.clock())
            if problem:
                path = self.dir.file(LOCK_FILE)
                raw = validate.read_regular_file(path, MAX_STATE_BYTES, "lock", StateError)
                raise StateFileError(path, problem, self.remedy(), len(raw), hashlib.sha256(raw).hexdigest())
        return holder

    def _read_or_break(self, force: bool) -> Tuple[Optional[Dict[str, Any]], Optional[StateFileError]]:
        """(holder, None), or with ``force`` (None, the error) for a lock file that cannot be read."""
        try:
            return self.read(), None
        except StateFileError as exc:
            if force:
                return None, exc
            raise

    def is_expired(self, holder: Dict[str, Any]) -> bool:
        return float(holder.get("expires_epoch", 0)) <= self.clock()

    def new_holder(
        self,
        owner: str,
        run_id: str,
        release: Optional[str],
        ttl: int,
        controller: Optional[str],
        controller_process: Optional[str] = None,
    ) -> dict:
        now = self.clock()
        # what people pass here (a CI job URL as owner, say) may carry credentials: never written as given
        return {
            "app": self.dir.app,
            "owner": redact(owner) if owner is not None else None,
            "controller": redact(controller or ""),
            # the ansible-playbook process on the controller (pid:start time): a run whose process is gone is dead
            "controller_process": controller_process,
            "lock_host": socket.gethostname(),
            "release": redact(release) if release is not None else None,
            "run_id": run_id,
            "pid": os.getpid(),
            "ttl": ttl,
            "started_at": iso(now),
            "started_epoch": now,
            "expires_at": iso(now + ttl),
            "expires_epoch": now + ttl,
        }

    def refreshed(self, holder: Dict[str, Any], ttl: Optional[float] = None) -> Dict[str, Any]:
        """``holder`` with its expiry moved to now + ``ttl`` (default: the TTL it was taken with)."""
        now = self.clock()
        ttl = holder.get("ttl") if ttl is None else ttl
        out = dict(holder, ttl=ttl, expires_at=iso(now + float(ttl)), expires_epoch=now + float(ttl))
        out["refreshed_at"] = iso(now)
        return out

    def plan_acquire(self, run_id: str, force: bool) -> Dict[str, Any]:
        """What acquiring would do, without doing it: raises LockHeld if refused.

        ``corrupt`` (a StateFileError) is set when ``force`` breaks a lock file that cannot be read.
        """
        holder, corrupt = self._read_or_break(force)
        if corrupt is not None:
            return {"action": "force_break", "holder": None, "corrupt": corrupt}
        if holder is None:
            return {"action": "create", "holder": None}
        if holder.get("run_id") == run_id:
            # The same run again: nothing to do while the lock lasts; past its TTL (and not yet taken over)
            # the run extends it rather than keep a lock anyone may take.
            return {"action": "refresh" if self.is_expired(holder) else "none", "holder": holder}
        if self.is_expired(holder):
            return {"action": "takeover", "holder": holder}
        if force:
            return {"action": "force_break", "holder": holder}
        raise LockHeld(
            "deploy lock for app %r is held by %s; wait for that deploy to finish, or break the lock "
            "with force: true if it is dead" % (self.dir.app, describe(holder, self.clock())),
            holder,
        )

    def acquire(
        self,
        owner: str,
        run_id: str,
        release: Optional[str] = None,
        ttl: int = 3600,
        controller: Optional[str] = None,
        force: bool = False,
        controller_process: Optional[str] = None,
        reason: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Returns {"changed", "action", "lock", "previous_holder", "audit"}; ``reason`` (why a force break is
        right, e.g. the holder's process is gone) goes into the audit entry."""
        because = {"reason": reason} if reason else {}

        def attempt() -> Dict[str, Any]:
            plan = self.plan_acquire(run_id, force)
            previous = plan["holder"]
            if plan["action"] == "none":
                return {"changed": False, "action": "none", "lock": previous, "previous_holder": None, "audit": None}
            if plan["action"] == "refresh":
                return self._write_refresh(previous, ttl)
            lock = self.new_holder(owner, run_id, release, ttl, controller, controller_process)
            audit = None
            if plan.get("corrupt") is not None:
                evidence = dict(plan["corrupt"].evidence(), moved_to=self.dir.move_aside(LOCK_FILE))
                self._create(lock)
                audit = self.dir.audit("force_break", by=_who(lock), previous=evidence, **because)
                previous = evidence
            elif plan["action"] == "create":
                self._create(lock)
                audit = self.dir.audit("acquire", by=_who(lock))
            else:
                self.dir.replace_json(LOCK_FILE, lock)
                audit = self.dir.audit(
                    plan["action"],
                    by=_who(lock),
                    previous=_who(previous),
                    previous_expired_at=previous.get("expires_at"),
                    **because,
                )
            return {
                "changed": True,
                "action": plan["action"],
                "lock": lock,
                "previous_holder": previous,
                "audit": audit,
            }

        return self.dir.guarded(attempt)

    def _create(self, lock: Dict[str, Any]) -> None:
        if not self.dir.create_json(LOCK_FILE, lock):
            # Someone without the guard (an older version, a person) created it.
            try:
                holder = self.read() or {}
            except StateFileError:
                holder = {}
            raise LockHeld(
                "deploy lock for app %r appeared while acquiring: %s" % (self.dir.app, describe(holder, self.clock())),
                holder,
            )

    def plan_refresh(self, run_id: str) -> Dict[str, Any]:
        """A refresh needs the lock still held by ``run_id``; raises NotOwner (naming who has it) otherwise."""
        holder = self.read()
        if holder is None:
            raise NotOwner(
                "deploy lock for app %r is not held by anyone: run %r lost it (released or broken with force); "
                "stop this deploy, or take the lock again with state: acquired if nobody else deploys %r"
                % (self.dir.app, run_id, self.dir.app),
                {},
            )
        if holder.get("run_id") != run_id:
            raise NotOwner(
                "deploy lock for app %r is held by %s, not by run %r: this run lost it (taken over after its TTL or "
                "broken with force); stop this deploy - another one may be changing the fleet"
                % (self.dir.app, describe(holder, self.clock()), run_id),
                holder,
            )
        return {"action": "refresh", "holder": holder}

    def refresh(self, run_id: str, ttl: Optional[float] = None) -> Dict[str, Any]:
        """Extend the lock ``run_id`` holds to now + ``ttl`` (default its own TTL); audited."""

        def attempt() -> Dict[str, Any]:
            return self._write_refresh(self.plan_refresh(run_id)["holder"], ttl)

        if not os.path.lexists(self.dir.path):
            # no state directory, so no lock: say so without creating the directory and its guard
            self.plan_refresh(run_id)
        return self.dir.guarded(attempt)

    def refresh_if_held(self, run_id: str) -> Optional[Dict[str, Any]]:
        """Refresh the lock (its own TTL, from now) when ``run_id`` holds it; None when it does not.

        For the ledger, which calls it inside its own guarded section at every new phase, so a deploy keeps its
        lock for as long as it makes progress. A lock held by another run is left alone: a standalone rollback
        holds its own lock while it records on the ledger of the run it rolls back, and a run whose lock was
        taken over finds out from the ledger, which the new run restarted under its own run id.
        """
        holder = self.read()
        if holder is None or holder.get("run_id") != run_id:
            return None
        return self._write_refresh(holder, None)

    def _write_refresh(self, holder: Dict[str, Any], ttl: Optional[float]) -> Dict[str, Any]:
        lock = self.refreshed(holder, ttl)
        self.dir.replace_json(LOCK_FILE, lock)
        audit = self.dir.audit(
            "refresh", by=_who(lock), previous_expires_at=holder.get("expires_at"), expires_at=lock["expires_at"]
        )
        return {"changed": True, "action": "refresh", "lock": lock, "previous_holder": None, "audit": audit}

    def plan_release(self, run_id: Optional[str], force: bool) -> Dict[str, Any]:
        holder, corrupt = self._read_or_break(force)
        if corrupt is not None:
            return {"action": "force_break", "holder": None, "corrupt": corrupt}
        if holder is None:
            return {"action": "none", "holder": None}
        if run_id is not None and holder.get("run_id") == run_id:
            return {"action": "release", "holder": holder}
        if force:
            return {"action": "force_break", "holder": holder}
        raise NotOwner(
            "deploy lock for app %r belongs to another deploy: %s; only that run (run id) may release it, "
            "or break it with force: true" % (self.dir.app, describe(holder, self.clock())),
            holder,
        )

    def release(self, run_id: Optional[str], owner: Optional[str] = None, force: bool = False) -> Dict[str, Any]:
        def attempt() -> Dict[str, Any]:
            plan = self.plan_release(run_id, force)
            holder = plan["holder"]
            if plan["action"] == "none":
                return {"changed": False, "action": "none", "previous_holder": None, "audit": None}
            who = {"owner": redact(owner) if owner is not None else None, "run_id": run_id}
            if plan.get("corrupt") is not None:
                holder = dict(plan["corrupt"].evidence(), moved_to=self.dir.move_aside(LOCK_FILE))
                audit = self.dir.audit("force_break", by=who, previous=holder)
                return {"changed": True, "action": "force_break", "previous_holder": holder, "audit": audit}
            self.dir.remove(LOCK_FILE)
            if plan["action"] == "release":
                audit = self.dir.audit("release", by=who)
            else:
                audit = self.dir.audit("force_break", by=who, previous=_who(holder))
            return {"changed": True, "action": plan["action"], "previous_holder": holder, "audit": audit}

        if not self.dir.exists():
            return {"changed": False, "action": "none", "previous_holder": None, "audit": None}
        return self.dir.guarded(attempt)


def _who(holder: Dict[str, Any]) -> Dict[str, Any]:
    keys = ("owner", "controller", "controller_process", "release", "run_id", "pid", "started_at")
    return {k: holder.get(k) for k in keys}


def process_identity(pid: int) -> Optional[str]:
    """``pid:start time`` of a process on this machine (Linux /proc; the start time tells a reused pid from the
    process that had it), or None where it cannot be read."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return "%d:%s" % (pid, fields[19])
    except (OSError, IndexError, ValueError):
        return None


def process_gone(identity: Any) -> bool:
    """Whether the process ``identity`` (process_identity's) certainly runs no more on this machine."""
    if not isinstance(identity, str) or not re.fullmatch(r"[0-9]+:[0-9]+", identity):
        return False  # nothing to judge by: assume alive
    return process_identity(int(identity.split(":")[0])) != identity
