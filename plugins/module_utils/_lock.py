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
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import socket
import time
from typing import Any, Callable, Dict, List, Optional

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate

LOCK_FILE = "deploy.lock"
AUDIT_FILE = "audit.log"
GUARD_FILE = ".guard"


class StateError(Exception):
    """A state file could not be read or written (permissions, corrupt JSON)."""


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
        return os.path.isdir(self.path)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def ensure(self) -> None:
        os.makedirs(self.root, mode=0o755, exist_ok=True)
        try:
            os.mkdir(self.path, 0o700)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
        os.chmod(self.path, 0o700)

    def guarded(self, action: Callable[[], Any]) -> Any:
        """Run ``action`` holding an exclusive flock on the directory's guard file."""
        self.ensure()
        fd = os.open(self.file(GUARD_FILE), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return action()
        finally:
            os.close(fd)

    def read_json(self, name: str) -> Optional[Dict[str, Any]]:
        try:
            with open(self.file(name), encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StateError("cannot read %s: %s" % (self.file(name), exc)) from exc
        if not isinstance(data, dict):
            raise StateError("%s does not hold a JSON object" % (self.file(name),))
        return data

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
        fd = os.open(self.file(AUDIT_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, json.dumps(entry, sort_keys=True).encode("utf-8") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def audit_entries(self) -> List[Dict[str, Any]]:
        try:
            with open(self.file(AUDIT_FILE), encoding="utf-8") as handle:
                return [json.loads(line) for line in handle if line.strip()]
        except FileNotFoundError:
            return []


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
    """One deploy per application: acquire, release, inspect, break.

    Identity is the ``run_id`` (one per playbook run), not the owner name: the
    same person may start two deploys, and the second must be refused.
    """

    def __init__(self, state_dir: StateDir, clock: Callable[[], float] = time.time) -> None:
        self.dir = state_dir
        self.clock = clock

    def read(self) -> Optional[Dict[str, Any]]:
        if not self.dir.exists():
            return None
        return self.dir.read_json(LOCK_FILE)

    def is_expired(self, holder: Dict[str, Any]) -> bool:
        return float(holder.get("expires_epoch", 0)) <= self.clock()

    def new_holder(self, owner: str, run_id: str, release: Optional[str], ttl: int, controller: Optional[str]) -> dict:
        now = self.clock()
        return {
            "app": self.dir.app,
            "owner": owner,
            "controller": controller or "",
            "lock_host": socket.gethostname(),
            "release": release,
            "run_id": run_id,
            "pid": os.getpid(),
            "ttl": ttl,
            "started_at": iso(now),
            "started_epoch": now,
            "expires_at": iso(now + ttl),
            "expires_epoch": now + ttl,
        }

    def plan_acquire(self, run_id: str, force: bool) -> Dict[str, Any]:
        """What acquiring would do, without doing it: raises LockHeld if refused."""
        holder = self.read()
        if holder is None:
            return {"action": "create", "holder": None}
        if holder.get("run_id") == run_id:
            return {"action": "none", "holder": holder}
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
    ) -> Dict[str, Any]:
        """Returns {"changed", "action", "lock", "previous_holder", "audit"}."""

        def attempt() -> Dict[str, Any]:
            plan = self.plan_acquire(run_id, force)
            previous = plan["holder"]
            if plan["action"] == "none":
                return {"changed": False, "action": "none", "lock": previous, "previous_holder": None, "audit": None}
            lock = self.new_holder(owner, run_id, release, ttl, controller)
            audit = None
            if plan["action"] == "create":
                if not self.dir.create_json(LOCK_FILE, lock):
                    # Someone without the guard (an older version, a person) created it.
                    holder = self.read() or {}
                    raise LockHeld(
                        "deploy lock for app %r appeared while acquiring: %s"
                        % (self.dir.app, describe(holder, self.clock())),
                        holder,
                    )
                audit = self.dir.audit("acquire", by=_who(lock))
            else:
                self.dir.replace_json(LOCK_FILE, lock)
                audit = self.dir.audit(
                    plan["action"],
                    by=_who(lock),
                    previous=_who(previous),
                    previous_expired_at=previous.get("expires_at"),
                )
            return {
                "changed": True,
                "action": plan["action"],
                "lock": lock,
                "previous_holder": previous,
                "audit": audit,
            }

        return self.dir.guarded(attempt)

    def plan_release(self, run_id: Optional[str], force: bool) -> Dict[str, Any]:
        holder = self.read()
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
            self.dir.remove(LOCK_FILE)
            who = {"owner": owner, "run_id": run_id}
            if plan["action"] == "release":
                audit = self.dir.audit("release", by=who)
            else:
                audit = self.dir.audit("force_break", by=who, previous=_who(holder))
            return {"changed": True, "action": plan["action"], "previous_holder": holder, "audit": audit}

        if not self.dir.exists():
            return {"changed": False, "action": "none", "previous_holder": None, "audit": None}
        return self.dir.guarded(attempt)


def _who(holder: Dict[str, Any]) -> Dict[str, Any]:
    keys = ("owner", "controller", "release", "run_id", "pid", "started_at")
    return {k: holder.get(k) for k in keys}
