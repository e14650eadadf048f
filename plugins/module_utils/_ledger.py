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
from typing import Any, Callable, Dict, List, Optional, Set

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._lock import (
    DeployLock,
    Leaf,
    ListOf,
    MapOf,
    Obj,
    StateDir,
    StateError,
    StateFileError,
    iso,
    shape_problem,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import scrub
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import surge as lb_surge
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.tally import TALLY_KEYS

LEDGER_FILE = "ledger.json"
PREVIOUS_LEDGER_FILE = "ledger.previous.json"
NOOP_LEDGER_FILE = "ledger.last-noop.json"

HOST_FIELDS = ("previous", "current", "server", "status", "batch")
HOST_STATUSES = ("staged", "switching", "moved", "rolled_back", "removed", "unchanged", "failed", "unreachable")
OUTCOMES = ("running", "succeeded", "unchanged", "rolled_back", "failed", "planned")
#: The outcomes a caller may finish a run with (``completed`` is resolved by final_outcome).
FINISH_OUTCOMES = ["succeeded", "completed", "unchanged", "rolled_back", "failed", "planned"]

_NUMBER = (int, float)
_TEXT = Leaf((str, None))
_ANY = Leaf((str, int, float, bool, dict, list, None))
HOST_SHAPE = Obj(
    {
        "previous": _TEXT,
        "current": _TEXT,
        "server": _TEXT,
        "status": Leaf((str, None), choices=HOST_STATUSES + (None,)),
        "batch": Leaf((int, None)),
        "updated_at": _TEXT,
    }
)
LEDGER_SHAPE = Obj(
    {
        "app": Leaf(str),
        "run_id": Leaf(str),
        "release": _TEXT,
        "outcome": Leaf(str, choices=OUTCOMES),
        "cause": _TEXT,
        "started_at": _TEXT,
        "started_epoch": Leaf(_NUMBER),
        "finished_at": _TEXT,
        "duration": Leaf(_NUMBER),
        # {lb id: {server: {state, weight}}} when captured by state=started; rollback_plan checks it in depth
        # (it may also be given as a raw value).
        "lb_state": MapOf(_ANY, nullable=True),
        # {lb id: {pid, started}}: the load-balancer processes whose runtime states lb_state was read from
        "lb_process": MapOf(Obj({"pid": Leaf(int), "started": Leaf(int)}, required=("pid", "started")), nullable=True),
        "hosts": MapOf(HOST_SHAPE),
        "batches": ListOf(
            Obj(
                {"batch": Leaf(int), "hosts": ListOf(Leaf(str)), "started_at": _TEXT, "started_epoch": Leaf(_NUMBER)},
                required=("batch", "hosts"),
            )
        ),
        "phases": ListOf(
            Obj(
                {
                    "name": Leaf(str),
                    "started_at": _TEXT,
                    "started_epoch": Leaf(_NUMBER),
                    "ended_epoch": Leaf((int, float, None)),
                    "ended_at": _TEXT,
                    "seconds": Leaf(_NUMBER),
                },
                required=("name", "started_epoch"),
            )
        ),
        "steps": ListOf(MapOf(_ANY)),
        "plan": MapOf(_ANY, nullable=True),
    },
    required=("run_id", "outcome", "started_epoch", "hosts", "batches", "phases"),
)


#: The ``ledger`` option of the modules that record while they work (drain_backend, switch_traffic):
#: one call both changes the load balancer and writes the ledger, so a batch costs no extra round trip.
RECORD_SPEC: Dict[str, Any] = {
    "app": {"type": "str", "required": True},
    "path": {"type": "path", "default": "/var/lib/zerodown"},
    "run_id": {"type": "str", "required": True},
    "hosts": {"type": "raw"},
    "status": {"type": "str", "choices": list(HOST_STATUSES)},
    "current": {"type": "str"},
    "servers": {"type": "dict"},
    "batch": {"type": "int"},
    "phase": {"type": "str"},
    "step": {"type": "dict"},
    "unreachable": {"type": "list", "elements": "str"},
}


class LedgerError(Exception):
    """The ledger is missing, belongs to another run, or an update is invalid."""


#: Batch numbers count the plan's batches (0 for a step outside any batch).
BATCH = validate.Limit(0, 1000000, unit="", integer=True)


def host_entries(
    hosts: Any,
    status: Optional[str] = None,
    current: Optional[str] = None,
    servers: Optional[Dict[str, str]] = None,
    batch: Optional[int] = None,
) -> Dict[str, Dict[str, Any]]:
    """The per-host map the ledger stores, from what a playbook has at hand.

    ``hosts`` is a dict (host -> fields, as stored), a list of inventory host names, or a list of the
    ``zerodown_release_state`` facts the release action sets (``host`` and ``previous`` are taken from them).
    ``status``, ``current``, ``batch`` and the host's server (from ``servers``, the plan's map) are added
    to every host that does not set them itself.
    """
    if batch is not None:
        validate.number(batch, "batch", BATCH, LedgerError)
    if hosts is None:
        return {}
    if isinstance(hosts, dict):
        items = [(name, dict(fields) if isinstance(fields, dict) else fields) for name, fields in hosts.items()]
    elif isinstance(hosts, (list, tuple)):
        items = []
        for item in hosts:
            if isinstance(item, str):
                items.append((item, {}))
            elif isinstance(item, dict) and isinstance(item.get("host"), str):
                items.append((item["host"], {"previous": item["previous"]} if "previous" in item else {}))
            else:
                raise LedgerError(
                    "hosts entries must be inventory host names or zerodown_release_state facts (with host), got %r"
                    % (item,)
                )
    else:
        raise LedgerError("hosts must be a list of host names or a dict of host -> fields, got %r" % (hosts,))
    out: Dict[str, Dict[str, Any]] = {}
    for name, fields in items:
        if not isinstance(fields, dict):
            raise LedgerError("hosts[%r] must be a dict of %s, got %r" % (name, ", ".join(HOST_FIELDS), fields))
        defaults = {"status": status, "current": current, "batch": batch, "server": (servers or {}).get(name)}
        for key, value in defaults.items():
            if value is not None and fields.get(key) is None:
                fields[key] = value
        out[name] = fields
    return out


def record(params: Dict[str, Any], check: bool = False, clock: Callable[[], float] = time.time) -> Dict[str, Any]:
    """Apply one ``ledger`` option (RECORD_SPEC) to the ledger on this host; returns Ledger.update's result."""
    ledger = Ledger(StateDir(params["path"], params["app"]), clock=clock)
    hosts = host_entries(
        params.get("hosts"), params.get("status"), params.get("current"), params.get("servers"), params.get("batch")
    )
    for name in params.get("unreachable") or ():
        # what it runs is unknown: only the status changes (a later rollback retries it, its server stays out)
        hosts[name] = {"status": "unreachable"}
    return ledger.update(
        params["run_id"],
        check=check,
        hosts=hosts or None,
        batch=params.get("batch"),
        phase=params.get("phase"),
        step=params.get("step"),
    )


class Ledger:
    def __init__(self, state_dir: StateDir, clock: Callable[[], float] = time.time) -> None:
        self.dir = state_dir
        self.clock = clock

    def remedy(self, name: str = LEDGER_FILE) -> str:
        return (
            "move it aside (mv %s %s.corrupt) and run again; without a ledger a rollback does not know what moved, "
            "so check which release each host runs (<base_dir>/<app>/current) before you roll back by hand"
            % (self.dir.file(name), self.dir.file(name))
        )

    def read(self, name: str = LEDGER_FILE) -> Optional[Dict[str, Any]]:
        """The ledger (or its predecessor, ``name``), schema-checked; None when there is none."""
        if not self.dir.exists():
            return None
        return self.dir.read_json(name, LEDGER_SHAPE, self.remedy(name))

    # -- planning: pure functions of (current ledger, request) -> new ledger --

    def plan_start(
        self,
        current: Optional[Dict[str, Any]],
        run_id: str,
        release: Optional[str],
        lb_state: Optional[Any],
        extra: Optional[Dict[str, Any]],
        lb_process: Optional[Dict[str, Any]] = None,
    ) -> Optional[Dict[str, Any]]:
        """The ledger a new run starts with; None if this run already started it."""
        if current is not None and current.get("run_id") == run_id:
            return None
        now = self.clock()
        return _checked(
            {
                "app": self.dir.app,
                "run_id": run_id,
                "release": release,
                "outcome": "running",
                "cause": None,
                "started_at": iso(now),
                "started_epoch": now,
                "finished_at": None,
                "lb_state": lb_state,
                "lb_process": lb_process,
                "hosts": {},
                "batches": [],
                "phases": [],
                "plan": extra or {},
            }
        )

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
        step: Optional[Dict[str, Any]] = None,
    ) -> Dict[str, Any]:
        self._check_update(current, run_id, outcome)
        new = _copy(current)
        now = self.clock()
        for name, fields in (hosts or {}).items():
            _check_host(name, fields)
            _merge_host(new["hosts"].setdefault(name, {}), fields, now)
        if batch is not None:
            _record_batch(new["batches"], batch, sorted((hosts or {}).keys()), now)
        if phase is not None:
            _record_phase(new["phases"], phase, now)
        if step is not None:
            # a strategy's measured step (a canary analysis, a bake window), in order
            new.setdefault("steps", []).append(dict(step, at=iso(now)))
        if lb_state is not None and new.get("lb_state") is None:
            new["lb_state"] = lb_state
        if cause is not None and not new.get("cause"):
            new["cause"] = cause
        if outcome is not None:
            _record_outcome(new, outcome, now)
        return _checked(new)

    def _check_update(self, current: Optional[Dict[str, Any]], run_id: str, outcome: Optional[str]) -> None:
        """Refuse an update of a ledger that is not there or belongs to another run, or with an unknown outcome."""
        if current is None:
            raise LedgerError("no ledger for app %r; start one with state: started first" % (self.dir.app,))
        if current.get("run_id") != run_id:
            raise LedgerError(
                "the ledger of app %r belongs to run %r, not %r; a newer deploy started after this one"
                % (self.dir.app, current.get("run_id"), run_id)
            )
        if outcome is not None and outcome not in OUTCOMES:
            raise LedgerError("outcome %r is not one of %s" % (outcome, ", ".join(OUTCOMES)))

    # -- applying --

    def start(
        self,
        run_id: str,
        release: Optional[str] = None,
        lb_state: Optional[Any] = None,
        extra: Optional[Dict[str, Any]] = None,
        check: bool = False,
        lb_process: Optional[Dict[str, Any]] = None,
    ) -> Dict[str, Any]:
        def apply() -> Dict[str, Any]:
            current = self.read()
            new = self.plan_start(current, run_id, release, lb_state, extra, lb_process)
            if new is None:
                return {"changed": False, "ledger": current, "previous": current}
            if not check:
                if current is not None:
                    self.dir.replace_json(PREVIOUS_LEDGER_FILE, current)
                self.dir.replace_json(LEDGER_FILE, new)
            return {"changed": True, "ledger": new, "previous": current}

        if check:
            return apply()
        # bad input is refused before the guard creates the state directory (validate before mutating)
        self.plan_start(self.read(), run_id, release, lb_state, extra, lb_process)
        return self.dir.guarded(apply)

    def update(self, run_id: str, check: bool = False, **changes: Any) -> Dict[str, Any]:
        def apply() -> Dict[str, Any]:
            current = self.read()
            new = self.plan_update(current, run_id, **changes)
            changed = _strip_times(new) != _strip_times(current)
            # a new phase is progress: the lock this run holds in the same directory is refreshed in the same call
            # (no task of its own), so a lock outlives a deploy that keeps moving however long its phases take
            refreshed = (
                DeployLock(self.dir, self.clock).refresh_if_held(run_id) if changes.get("phase") and not check else None
            )
            if changes.get("outcome") not in (None, "running", "planned") and not touched(new):
                # A deploy that moved nothing (nothing to do, or stopped before its first change) is not one to
                # roll back to: the ledger of the last real deploy becomes current again, and this run's stays
                # beside it for the record.
                earlier = self.read(PREVIOUS_LEDGER_FILE)
                if earlier is not None:
                    if not check:
                        self.dir.replace_json(NOOP_LEDGER_FILE, new)
                        self.dir.replace_json(LEDGER_FILE, earlier)
                    return {"changed": True, "ledger": new, "previous": current, "restored": earlier}
            if changed and not check:
                self.dir.replace_json(LEDGER_FILE, new)
            out = {"changed": changed, "ledger": new if changed else current, "previous": current}
            if refreshed:
                out["lock"] = refreshed["lock"]
            return out

        if check or not self.dir.exists():
            # No state directory, no ledger: the refusal needs no guard, and must not create the directory.
            return apply()
        return self.dir.guarded(apply)


def _check_host(name: str, fields: Any) -> None:
    """Refuse a host entry that is not a dict of known fields with a known status."""
    if not isinstance(fields, dict):
        raise LedgerError("hosts[%r] must be a dict of %s, got %r" % (name, ", ".join(HOST_FIELDS), fields))
    unknown = sorted(set(fields) - set(HOST_FIELDS))
    if unknown:
        raise LedgerError("hosts[%r] has unknown fields %s; known: %s" % (name, unknown, ", ".join(HOST_FIELDS)))
    status = fields.get("status")
    if status is not None and status not in HOST_STATUSES:
        raise LedgerError("hosts[%r].status %r is not one of %s" % (name, status, ", ".join(HOST_STATUSES)))


def _merge_host(entry: Dict[str, Any], fields: Dict[str, Any], now: float) -> None:
    """Record a host's ``fields`` in its ledger ``entry``: a field given as None does not erase one recorded, and
    "previous" (what the host ran before this deploy) is never overwritten: first record wins."""
    for key, value in fields.items():
        if key == "previous" and "previous" in entry:
            continue
        if value is not None or key not in entry:
            entry[key] = value
    entry["updated_at"] = iso(now)


def _record_batch(batches: List[Dict[str, Any]], batch: int, names: List[str], now: float) -> None:
    """The hosts of ``names`` join batch ``batch``: the last one when it is the same batch, else a new one."""
    if batches and batches[-1]["batch"] == batch:
        batches[-1]["hosts"] = sorted(set(batches[-1]["hosts"]) | set(names))
    else:
        batches.append({"batch": batch, "hosts": names, "started_at": iso(now), "started_epoch": now})


def _record_phase(phases: List[Dict[str, Any]], phase: str, now: float) -> None:
    """Phase ``phase`` starts now (the running one ends), unless it is the one running."""
    if not phases or phases[-1]["name"] != phase or phases[-1].get("ended_epoch") is not None:
        _close_phase(phases, now)
        phases.append({"name": phase, "started_at": iso(now), "started_epoch": now, "ended_epoch": None})


def _record_outcome(ledger: Dict[str, Any], outcome: str, now: float) -> None:
    """The run's outcome; a final one (not running, not planned) ends the last phase and the run."""
    ledger["outcome"] = outcome
    if outcome not in ("running", "planned"):
        _close_phase(ledger["phases"], now)
        ledger["finished_at"] = iso(now)
        ledger["duration"] = round(now - float(ledger.get("started_epoch", now)), 3)


def _checked(ledger: Dict[str, Any]) -> Dict[str, Any]:
    """A ledger about to be written: it must read back (LedgerError for a value of the wrong type, before anything
    is written), and it holds no secret - URL user-info and ``password=`` values in any string are masked (a
    ``cause`` quoting a DSN, the plan's smoke URL)."""
    found = shape_problem(ledger, LEDGER_SHAPE, "")
    if found:
        raise LedgerError("cannot record this: the ledger's %s %s; nothing was written" % found)
    return scrub(ledger)


def touched(ledger: Dict[str, Any]) -> bool:
    """Whether the run changed any host (moved it, or began to, or rolled it back)."""
    return any(
        entry.get("status") in ("switching", "moved", "failed", "rolled_back", "removed", "unreachable")
        for entry in ledger.get("hosts", {}).values()
    )


def moved_hosts(ledger: Dict[str, Any]) -> List[str]:
    """Hosts whose ``current`` may differ from ``previous``: what a rollback must undo."""
    return sorted(
        name
        for name, entry in ledger.get("hosts", {}).items()
        if entry.get("status") in ("switching", "moved", "failed", "unreachable")
    )


def storage_error(path: str, exc: BaseException) -> str:
    if isinstance(exc, StateFileError):
        return "deploy ledger: %s" % exc  # names the file, the field and what to do
    return (
        "deploy ledger in %s: %s; check that the directory is writable by the connecting user "
        "(become: true on the ledger host)" % (path, exc)
    )


def check_record(params: Optional[Dict[str, Any]]) -> None:
    """Raise LedgerError if a module's ``ledger`` option cannot be recorded: checked before anything changes."""
    if not params:
        return
    try:
        StateDir(params["path"], params["app"])
        host_entries(
            params.get("hosts"), params.get("status"), params.get("current"), params.get("servers"), params.get("batch")
        )
    except (LedgerError, ValueError) as exc:
        raise LedgerError("ledger: %s" % exc) from None


def error_message(path: str, exc: BaseException) -> str:
    """What a module says when the ledger in ``path`` refused a change (LedgerError, ValueError) or could not be
    stored (StateError, OSError)."""
    if isinstance(exc, (StateError, OSError)):
        return storage_error(path, exc)
    return "deploy ledger: %s" % exc


def record_step(params: Optional[Dict[str, Any]], check: bool = False) -> Optional[str]:
    """Record a module's ``ledger`` option, if given and not in check mode; the error message if it failed."""
    if not params or check:
        return None
    try:
        record(params)
    except (LedgerError, ValueError, StateError, OSError) as exc:
        return error_message(params["path"], exc)
    return None


#: The statuses a deploy's forward steps record (drain before the move, enable after it).
FORWARD_STATUSES = ("switching", "moved")


def not_moved_record(params: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The ``ledger`` record that takes back a drain's ``switching`` when the drain gave up before any host moved
    (status unchanged: a rollback only restores their servers, it does not drain them again); None otherwise."""
    if not params or params.get("status") != "switching":
        return None
    record = {key: params.get(key) for key in ("app", "path", "run_id", "hosts", "servers")}
    return dict(record, status="unchanged")


def enabled_record(params: Optional[Dict[str, Any]], hosts: Any) -> Optional[Dict[str, Any]]:
    """The ``ledger`` record of servers put back into the pool by the call that drains the next ones
    (drain_backend's ``enable``): ``hosts`` moved, with the drain record's ledger, server map and current release;
    None without a ledger option or hosts."""
    if not params or not hosts:
        return None
    record = {key: params.get(key) for key in ("app", "path", "run_id", "servers", "current")}
    return dict(record, hosts=hosts, status="moved")


def cut_sessions_record(
    params: Optional[Dict[str, Any]], servers: List[str], drained: Dict[str, Any]
) -> Optional[Dict[str, Any]]:
    """The ``ledger`` record of a drain whose timeout cut sessions (step ``drain``, see sessions_cut); None without
    a ledger option."""
    if not params:
        return None
    step = {
        "name": "drain",
        "servers": list(servers),
        "killed_sessions": int(drained["killed_sessions"]),
        "drain_seconds": drained["drain_seconds"],
        "timed_out": bool(drained["timed_out"]),
    }
    return {"app": params["app"], "path": params["path"], "run_id": params["run_id"], "step": step}


def sessions_cut(ledger: Dict[str, Any]) -> int:
    """How many sessions the deploy's drains shut down at their timeout (drain on_timeout=shutdown)."""
    return sum(int(s.get("killed_sessions") or 0) for s in ledger.get("steps") or [] if s.get("name") == "drain")


def recorded_processes(params: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The load-balancer processes this run's ledger recorded at preflight (``lb_process``), for a module's forward
    step (``ledger`` option with status switching or moved) to check that they were not reloaded or restarted since;
    {} for any other record (a rollback's: it must go ahead on whatever process serves now), or when there is nothing
    to compare (no ledger option, no ledger, another run's ledger)."""
    if not params or params.get("status") not in FORWARD_STATUSES:
        return {}
    try:
        current = Ledger(StateDir(params["path"], params["app"])).read()
    except (LedgerError, StateError, OSError, ValueError):
        return {}  # recording the step reports what is wrong with the ledger
    if not current or current.get("run_id") != params["run_id"]:
        return {}
    return current.get("lb_process") or {}


def rollback_plan(ledger: Dict[str, Any], drain_moved: bool = False) -> Dict[str, Any]:
    """What a rollback does, from the ledger, and in which order: the one place that orders host and load-balancer
    restores. Every strategy's rollback (the deploy's rescue, zerodown.deploy.rollback after a killed run, a canary
    step or a bake window that fails) follows it in three steps:

    1. ``hold``, one call per load balancer: the servers of the hosts that did not move back to their captured state
       (they run the release they ran before, so they may take traffic); the moved hosts' servers never get more
       traffic than they have: with ``drain_moved`` they go to drain where a server that did not move goes on
       serving on that load balancer (the old colour, the baseline), else they are left as they are.
    2. ``batches``, the last batch first: each batch's servers drain (their in-flight requests finish), its hosts go
       back to the release they ran before and answer ready on it, then its ``ready`` servers - the returned hosts
       captured taking traffic - take traffic again and its ``maint`` ones (hosts going back to nothing) stay out.
       A returned server captured out of traffic (a blue-green standby colour) stays drained until step 3.
    3. ``restore``, one call per load balancer: the state captured before the deploy, less the ``maint`` servers and
       those of hosts that could not be reached.

    So no server is given traffic before its host answers ready on the release it serves from then on.

    ``hosts``: host -> {to: release or None (it ran nothing before: the release is removed and its server stays
    out of the pool), server}. Each batch: its ``hosts`` and ``servers``, ``ready``, ``maint`` and ``record``, what
    the ledger records once the batch is back.
    """
    entries = ledger.get("hosts", {})
    hosts = {
        name: {"to": entries[name].get("previous") or None, "server": entries[name].get("server") or name}
        for name in moved_hosts(ledger)
    }
    # out of the pool for good: hosts that went back to nothing, and hosts that could not be reached (what they run
    # is unknown; the rollback batch left their servers in maint)
    removed = {
        info["server"] for name, info in hosts.items() if not info["to"] or entries[name].get("status") == "unreachable"
    }
    restore = _captured_states(ledger, removed)
    # a returned server takes traffic again in its batch only if some load balancer had it taking traffic before
    captured_ready = {
        server for servers in restore.values() for server, info in servers.items() if info.get("state") == "ready"
    }
    moved = {info["server"] for info in hosts.values()}
    return {
        "hold": _hold(restore, moved, drain_moved),
        "batches": _rollback_batches(entries, hosts, captured_ready),
        "hosts": hosts,
        "restore": restore,
    }


def _captured_states(ledger: Dict[str, Any], removed: Set[str]) -> Dict[str, Any]:
    """The ledger's lb_state less the ``removed`` servers, checked: {lb id: {server: {state, weight}}}."""
    restore: Dict[str, Any] = {}
    for lb_id, servers in (ledger.get("lb_state") or {}).items():
        if not isinstance(servers, dict) or not all(isinstance(v, dict) for v in servers.values()):
            raise LedgerError(
                "the ledger's lb_state[%r] is not {server: {state, weight}}: it was not captured by "
                "deploy_ledger state=started with load_balancer (or switch_traffic's previous)" % (lb_id,)
            )
        restore[lb_id] = {server: dict(state) for server, state in servers.items() if server not in removed}
    return restore


def _rollback_batches(
    entries: Dict[str, Any], hosts: Dict[str, Dict[str, Any]], captured_ready: Set[str]
) -> List[Dict[str, Any]]:
    """rollback_plan's batches, the last batch first."""
    by_batch: Dict[int, List[str]] = {}
    for name in hosts:
        by_batch.setdefault(int(entries[name].get("batch") or 0), []).append(name)
    batches = []
    for number in sorted(by_batch, reverse=True):
        names = sorted(by_batch[number])
        batches.append(
            {
                "batch": number,
                "hosts": names,
                "servers": [hosts[n]["server"] for n in names],
                "ready": [hosts[n]["server"] for n in names if hosts[n]["to"] and hosts[n]["server"] in captured_ready],
                "maint": [hosts[n]["server"] for n in names if not hosts[n]["to"]],
                "record": {
                    n: {"status": "rolled_back" if hosts[n]["to"] else "removed", "current": hosts[n]["to"]}
                    for n in names
                },
            }
        )
    return batches


def _hold(restore: Dict[str, Any], moved: Set[str], drain_moved: bool) -> Dict[str, Any]:
    """rollback_plan's first step, per load balancer: the servers that did not move at their captured state; with
    ``drain_moved``, the moved ones drained where a server that did not move goes on serving."""
    hold: Dict[str, Any] = {}
    for lb_id, servers in restore.items():
        staying = {name: info for name, info in servers.items() if name not in moved}
        others_serve = any(info.get("state") == "ready" and info.get("weight") for info in staying.values())
        hold[lb_id] = dict(staying)
        if drain_moved and others_serve:
            # never all of them at once: after a canary's promotion every host moved, and the batches take them
            # out one at a time
            hold[lb_id].update({name: dict(servers[name], state="drain") for name in moved & set(servers)})
    return hold


def capture_lb(spec: Dict[str, Any]):
    """The load balancer's state before the first change, {lb id: {server: {state, weight}}}, and the processes
    it was read from ({lb id: {pid, started}}, see _lb.processes); checks that every server of its ``servers`` map
    exists, and with ``surge`` each host's server for each slot, on its slot's port. Read only: raises _lb.LBError when one is unreachable or lacks a server."""
    params = lb.resolve_params({"load_balancer": spec})
    providers = lb.providers_from_params(params)
    before = lb.read_all(providers, params["backend"])
    if spec.get("surge") is not None:  # each host's two servers (docs/surge.md), every one missing named at once
        lb_surge.check(providers, params["backend"], before, lb_surge.SurgeMap.from_spec(spec))
    names = sorted(set((spec.get("servers") or {}).values()))
    for provider in providers:
        lb.check_servers(provider, params["backend"], before[provider.id], names)
    return {p.id: lb.snapshot(before[p.id]) for p in providers}, lb.processes(providers)


def start_run(
    ledger: Ledger,
    run_id: str,
    release: Optional[str],
    lb_state: Any,
    plan: Optional[Dict[str, Any]],
    check: bool = False,
    lb_process: Optional[Dict[str, Any]] = None,
    **changes: Any,
) -> Dict[str, Any]:
    """Begin run ``run_id``'s ledger (no change if it already did), with ``changes`` (hosts, batch, phase, cause) in
    the same ledger: {changed, ledger, previous}."""
    out = ledger.start(run_id, release, lb_state, plan, check=check, lb_process=lb_process)
    if not any(v is not None for v in changes.values()):
        return out
    if check and out["changed"]:
        new = ledger.plan_update(out["ledger"], run_id, lb_state=lb_state, **changes)
        return {"changed": True, "ledger": new, "previous": out["previous"]}
    upd = ledger.update(run_id, check=check, lb_state=lb_state, **changes)
    return {"changed": out["changed"] or upd["changed"], "ledger": upd["ledger"], "previous": out["previous"]}


def final_outcome(ledger: Ledger, outcome: str) -> str:
    """``completed`` is ``succeeded`` when the run moved a host, ``unchanged`` otherwise; any other outcome as it is."""
    if outcome != "completed":
        return outcome
    current = ledger.read() or {}
    return "succeeded" if any(h.get("status") == "moved" for h in current.get("hosts", {}).values()) else "unchanged"


def report(out: Dict[str, Any]) -> Dict[str, Any]:
    """A ledger call's module result from {changed, ledger, previous}: the ledger, the moved hosts, the phase
    seconds, the summary (set_stats) and its lines, and the diff."""
    current = out["ledger"] or {}
    refreshed = {"lock_expires_at": out["lock"]["expires_at"]} if out.get("lock") else {}
    return dict(
        refreshed,
        changed=out["changed"],
        ledger=out["ledger"],
        moved_hosts=moved_hosts(current),
        phase_seconds=phase_seconds(current),
        summary=summary(current),
        summary_lines=summary_lines(current),
        diff=dict(before=out["previous"] or {}, after=current),
    )


#: Why a ledger without a tally step has no count of failed requests.
NOT_TALLIED = "this run did not read the load balancer's counters at its end (no tally step in the ledger)"


def failed_requests(ledger: Dict[str, Any]) -> Dict[str, Any]:
    """The failed requests the load balancer counted during the deploy (its last ``tally`` step, recorded by
    canary_analysis state=tally): measured, the total's counts (``count`` the failed ones), per server, or the
    reason it was not measured."""
    steps = [s for s in ledger.get("steps") or [] if isinstance(s, dict) and s.get("name") == "tally"]
    step = steps[-1] if steps else {"measured": False, "reason": NOT_TALLIED}
    total = step.get("total") if step.get("measured") else None
    out: Dict[str, Any] = {"measured": bool(total), "reason": None if total else step.get("reason") or NOT_TALLIED}
    out["count"] = total.get("failed") if total else None
    out.update((key, total.get(key) if total else None) for key in TALLY_KEYS if key != "failed")
    out["servers"] = dict(step.get("servers") or {}) if total else {}
    out["seconds"] = step.get("seconds") if total else None
    return out


def failed_requests_line(data: Dict[str, Any]) -> str:
    head = "failed requests (load balancer's count): "
    if not data["measured"]:
        return head + "not measured: %s" % data["reason"]
    return head + "%s of %s (5xx %s, connection errors %s, response errors %s, retries %s, redispatches %s)" % (
        data["count"],
        data["requests"],
        data["http_5xx"],
        data["connection_errors"],
        data["response_errors"],
        data["retries"],
        data["redispatches"],
    )


def summary(ledger: Dict[str, Any]) -> Dict[str, Any]:
    """What a finished deploy reports (and publishes to AWX with set_stats)."""
    hosts = {
        name: "unknown (unreachable)" if entry.get("status") == "unreachable" else entry.get("current")
        for name, entry in sorted(ledger.get("hosts", {}).items())
    }
    return {
        "zerodown_release": ledger.get("release"),
        "zerodown_run_id": ledger.get("run_id"),
        "zerodown_outcome": ledger.get("outcome"),
        "zerodown_cause": ledger.get("cause"),
        "zerodown_duration": ledger.get("duration", 0),
        "zerodown_phase_seconds": phase_seconds(ledger),
        "zerodown_hosts": hosts,
        "zerodown_sessions_cut": sessions_cut(ledger),
        "zerodown_failed_requests": failed_requests(ledger),
        "zerodown_unreachable": sorted(
            name for name, entry in ledger.get("hosts", {}).items() if entry.get("status") == "unreachable"
        ),
    }


def summary_lines(ledger: Dict[str, Any]) -> List[str]:
    data = summary(ledger)
    lines = [
        "outcome: %s in %s s (run %s)" % (data["zerodown_outcome"], data["zerodown_duration"], data["zerodown_run_id"]),
        "per phase (s): %s" % ", ".join("%s %s" % kv for kv in data["zerodown_phase_seconds"].items()),
        "hosts: %s" % ", ".join("%s=%s" % (h, c or "-") for h, c in data["zerodown_hosts"].items()),
        failed_requests_line(data["zerodown_failed_requests"]),
    ]
    if data["zerodown_sessions_cut"]:
        cut = [s for s in ledger.get("steps") or [] if s.get("name") == "drain" and s.get("killed_sessions")]
        lines.append(
            "drain timeout: cut %d session(s) still running (%s)"
            % (
                data["zerodown_sessions_cut"],
                ", ".join("%s: %s" % ("/".join(s.get("servers") or []), s["killed_sessions"]) for s in cut),
            )
        )
    if data["zerodown_unreachable"]:
        lines.append(
            "unreachable: %s - left out of the pool (maint), what it runs is unknown; when it is back, run "
            "zerodown.deploy.rollback (it retries it) or the deploy again" % ", ".join(data["zerodown_unreachable"])
        )
    if data["zerodown_cause"]:
        lines.append("cause: %s" % data["zerodown_cause"])
    return lines


def captured_restore(path: str, app: str, hold: bool = False, drain_moved: bool = False) -> Dict[str, Any]:
    """The restore of the ledger on this host (rollback_plan's), or LedgerError naming what is missing.

    With ``hold`` (implied by ``drain_moved``) the rollback's first step instead (rollback_plan's ``hold``): the
    servers that did not move back to their captured state; with ``drain_moved`` the moved hosts' servers go to
    drain where another server serves; else they are left as they are.
    """
    try:
        current = Ledger(StateDir(path, app)).read()
    except (StateError, OSError, ValueError) as exc:
        raise LedgerError(storage_error(path, exc)) from exc
    if current is None:
        raise LedgerError(
            "no deploy ledger for app %r in %s on this host: nothing was captured to restore" % (app, path)
        )
    if not current.get("lb_state"):
        raise LedgerError(
            "the ledger of app %r (run %s) holds no load-balancer state: start it with state=started and load_balancer"
            % (app, current.get("run_id"))
        )
    plan = rollback_plan(current, drain_moved)
    return plan["hold"] if hold or drain_moved else plan["restore"]


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


# -- the deploy_ledger module's engine (docs/architecture.md, "Modules and engines") --


def run(params: Dict[str, Any], check_mode: bool) -> Dict[str, Any]:
    """The deploy_ledger module: start, record, finish or read run ``run_id``'s ledger; raises ModuleFailure."""
    try:
        ledger = Ledger(StateDir(params["path"], params["app"]))
    except ValueError as exc:
        raise ModuleFailure(str(exc)) from exc
    hosts, lb_state, lb_process = _module_inputs(params)
    try:
        if params["state"] == "query":
            return _query(ledger)
        out = _apply(ledger, params, check_mode, hosts, lb_state, lb_process)
    except (LedgerError, ValueError) as exc:
        raise ModuleFailure(str(exc)) from exc
    except (StateError, OSError) as exc:
        raise ModuleFailure(storage_error(params["path"], exc)) from exc
    return report(out)


def _module_inputs(params: Dict[str, Any]):
    """(hosts, lb_state, lb_process) from the options, checked before the ledger is read; the load balancer (with
    state=started only) is read here, before anything changes."""
    lb_state = params["lb_state"]
    lb_process = None
    try:
        hosts = (
            host_entries(params["hosts"], params["status"], params["current"], params["servers"], params["batch"])
            or None
        )
        if params["load_balancer"] is not None:
            if params["state"] != "started":
                raise ValueError("load_balancer is read with state=started only (the state before the first change)")
            lb_state, lb_process = capture_lb(params["load_balancer"])
    except (LedgerError, ValueError) as exc:
        raise ModuleFailure(str(exc)) from exc
    except lb.LBError as exc:
        raise ModuleFailure("load balancer preflight failed, nothing was changed: %s" % exc) from exc
    return hosts, lb_state, lb_process


def _query(ledger: Ledger) -> Dict[str, Any]:
    """state=query: the ledger, the hosts it moved, its phases and the rollback it implies (or why there is none)."""
    current = ledger.read()
    try:
        rollback = rollback_plan(current) if current else None
    except LedgerError as exc:
        rollback = {"error": str(exc)}
    return dict(
        changed=False,
        ledger=current,
        moved_hosts=moved_hosts(current or {}),
        phase_seconds=phase_seconds(current or {}),
        rollback=rollback,
    )


def _apply(
    ledger: Ledger,
    params: Dict[str, Any],
    check_mode: bool,
    hosts: Optional[Dict[str, Dict[str, Any]]],
    lb_state: Any,
    lb_process: Optional[Dict[str, Any]],
) -> Dict[str, Any]:
    """state=started, recorded or finished: {changed, ledger, previous}."""
    changes = dict(hosts=hosts, batch=params["batch"], phase=params["phase"], cause=params["cause"])
    if params["state"] == "started":
        return start_run(
            ledger, params["run_id"], params["release"], lb_state, params["plan"], check_mode, lb_process, **changes
        )
    outcome = final_outcome(ledger, params["outcome"]) if params["state"] == "finished" else None
    return ledger.update(params["run_id"], check=check_mode, lb_state=lb_state, outcome=outcome, **changes)
