# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the deploy ledger.

The ledger answers, at any moment of a deploy and after it, the questions a
rollback asks: which hosts did this run touch, what did each run before and
what does it run now, and what was the load balancer's state before the first
change. It lives next to the lock (``StateDir``) so that it survives ``serial``
batches, a crashed controller and a later ``rollback.yml``; no single play's
memory holds it.

It also keeps the phase timeline (each phase starts when the next ledger call
names it and ends when the next phase starts), measured on one clock, the
ledger host's, so per-phase times add up.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional

from ansible_collections.zerodown.deploy.plugins.module_utils._lock import StateDir, iso

LEDGER_FILE = "ledger.json"
PREVIOUS_LEDGER_FILE = "ledger.previous.json"

HOST_FIELDS = ("previous", "current", "server", "status", "batch")
HOST_STATUSES = ("staged", "switching", "moved", "rolled_back", "removed", "unchanged", "failed")
OUTCOMES = ("running", "succeeded", "unchanged", "rolled_back", "failed", "planned")


class LedgerError(Exception):
    """The ledger is missing, belongs to another run, or an update is invalid."""


class Ledger:
    def __init__(self, state_dir: StateDir, clock: Callable[[], float] = time.time) -> None:
        self.dir = state_dir
        self.clock = clock

    def read(self) -> Optional[Dict[str, Any]]:
        if not self.dir.exists():
            return None
        return self.dir.read_json(LEDGER_FILE)

    # -- planning: pure functions of (current ledger, request) -> new ledger --

    def plan_start(
        self,
        current: Optional[Dict[str, Any]],
        run_id: str,
        release: Optional[str],
        lb_state: Optional[Any],
        extra: Optional[Dict[str, Any]],
    ) -> Optional[Dict[str, Any]]:
        """The ledger a new run starts with; None if this run already started it."""
        if current is not None and current.get("run_id") == run_id:
            return None
        now = self.clock()
        return {
            "app": self.dir.app,
            "run_id": run_id,
            "release": release,
            "outcome": "running",
            "cause": None,
            "started_at": iso(now),
            "started_epoch": now,
            "finished_at": None,
            "lb_state": lb_state,
            "hosts": {},
            "batches": [],
            "phases": [],
            "plan": extra or {},
        }

    def plan_update(
        self,
        current: Optional[Dict[str, Any]],
        run_id: str,
        hosts: Optional[Dict[str, Dict[str, Any]]] = None,
        batch: Optional[int] = None,
        phase: Optional[str] = None,
        outcome: Optional[str] = None,
        cause: Optional[str] = None,
        lb_state: Optional[Any] = None,
    ) -> Dict[str, Any]:
        if current is None:
            raise LedgerError("no ledger for app %r; start one with state: started first" % (self.dir.app,))
        if current.get("run_id") != run_id:
            raise LedgerError(
                "the ledger of app %r belongs to run %r, not %r; a newer deploy started after this one"
                % (self.dir.app, current.get("run_id"), run_id)
            )
        if outcome is not None and outcome not in OUTCOMES:
            raise LedgerError("outcome %r is not one of %s" % (outcome, ", ".join(OUTCOMES)))
        new = _copy(current)
        now = self.clock()
        for name, fields in (hosts or {}).items():
            if not isinstance(fields, dict):
                raise LedgerError("hosts[%r] must be a dict of %s, got %r" % (name, ", ".join(HOST_FIELDS), fields))
            unknown = sorted(set(fields) - set(HOST_FIELDS))
            if unknown:
                raise LedgerError(
                    "hosts[%r] has unknown fields %s; known: %s" % (name, unknown, ", ".join(HOST_FIELDS))
                )
            status = fields.get("status")
            if status is not None and status not in HOST_STATUSES:
                raise LedgerError("hosts[%r].status %r is not one of %s" % (name, status, ", ".join(HOST_STATUSES)))
            entry = new["hosts"].setdefault(name, {})
            # "previous" is what the host ran before this deploy: first record wins.
            for key, value in fields.items():
                if key == "previous" and "previous" in entry:
                    continue
                if value is not None or key not in entry:
                    entry[key] = value
            entry["updated_at"] = iso(now)
        if batch is not None:
            names = sorted((hosts or {}).keys())
            batches = new["batches"]
            if batches and batches[-1]["batch"] == batch:
                batches[-1]["hosts"] = sorted(set(batches[-1]["hosts"]) | set(names))
            else:
                batches.append({"batch": batch, "hosts": names, "started_at": iso(now), "started_epoch": now})
        if phase is not None:
            phases = new["phases"]
            if not phases or phases[-1]["name"] != phase or phases[-1].get("ended_epoch") is not None:
                _close_phase(phases, now)
                phases.append({"name": phase, "started_at": iso(now), "started_epoch": now, "ended_epoch": None})
        if lb_state is not None and new.get("lb_state") is None:
            new["lb_state"] = lb_state
        if cause is not None and not new.get("cause"):
            new["cause"] = cause
        if outcome is not None:
            new["outcome"] = outcome
            if outcome not in ("running", "planned"):
                _close_phase(new["phases"], now)
                new["finished_at"] = iso(now)
                new["duration"] = round(now - float(new.get("started_epoch", now)), 3)
        return new

    # -- applying --

    def start(
        self,
        run_id: str,
        release: Optional[str] = None,
        lb_state: Optional[Any] = None,
        extra: Optional[Dict[str, Any]] = None,
        check: bool = False,
    ) -> Dict[str, Any]:
        def apply() -> Dict[str, Any]:
            current = self.read()
            new = self.plan_start(current, run_id, release, lb_state, extra)
            if new is None:
                return {"changed": False, "ledger": current, "previous": current}
            if not check:
                if current is not None:
                    self.dir.replace_json(PREVIOUS_LEDGER_FILE, current)
                self.dir.replace_json(LEDGER_FILE, new)
            return {"changed": True, "ledger": new, "previous": current}

        if check:
            return apply()
        return self.dir.guarded(apply)

    def update(self, run_id: str, check: bool = False, **changes: Any) -> Dict[str, Any]:
        def apply() -> Dict[str, Any]:
            current = self.read()
            new = self.plan_update(current, run_id, **changes)
            changed = _strip_times(new) != _strip_times(current)
            if changes.get("outcome") == "unchanged" and moved_hosts(new) == []:
                # A deploy that moved nothing is not one to roll back to: the
                # ledger of the last real deploy becomes current again.
                earlier = self.dir.read_json(PREVIOUS_LEDGER_FILE)
                if earlier is not None:
                    if not check:
                        self.dir.replace_json(LEDGER_FILE, earlier)
                    return {"changed": True, "ledger": new, "previous": current, "restored": earlier}
            if changed and not check:
                self.dir.replace_json(LEDGER_FILE, new)
            return {"changed": changed, "ledger": new if changed else current, "previous": current}

        if check:
            return apply()
        return self.dir.guarded(apply)


def moved_hosts(ledger: Dict[str, Any]) -> List[str]:
    """Hosts whose ``current`` may differ from ``previous``: what a rollback must undo."""
    return sorted(
        name
        for name, entry in ledger.get("hosts", {}).items()
        if entry.get("status") in ("switching", "moved", "failed")
    )


def phase_seconds(ledger: Dict[str, Any]) -> Dict[str, float]:
    out: Dict[str, float] = {}
    for phase in ledger.get("phases", []):
        if phase.get("ended_epoch") is not None:
            out[phase["name"]] = round(out.get(phase["name"], 0.0) + phase["ended_epoch"] - phase["started_epoch"], 3)
    return out


def _close_phase(phases: List[Dict[str, Any]], now: float) -> None:
    if phases and phases[-1].get("ended_epoch") is None:
        phases[-1]["ended_epoch"] = now
        phases[-1]["ended_at"] = iso(now)
        phases[-1]["seconds"] = round(now - phases[-1]["started_epoch"], 3)


def _copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy(v) for v in data]
    return data


def _strip_times(data: Any) -> Any:
    """Equality ignoring bookkeeping timestamps, so a repeated record is not a change."""
    if isinstance(data, dict):
        return {k: _strip_times(v) for k, v in data.items() if k != "updated_at"}
    if isinstance(data, list):
        return [_strip_times(v) for v in data]
    return data
