# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the deploy report's data, from a run's events.

The callback ``zerodown.deploy.deploy_report`` records plain dict events as the run goes and hands the list to
``build_report``; everything here is a pure function of that list, so tests feed recorded or synthetic runs.

An event is one of::

    {"type": "play", "at": 1.0, "name": "Zerodown deploy | stage ..."}
    {"type": "task", "at": 1.0, "id": "uuid", "name": "...", "module": "zerodown.deploy.release",
     "path": "roles/rolling/tasks/batch.yml:20", "play": "Zerodown deploy | ..."}
    {"type": "host_start", "at": 1.1, "id": "uuid", "host": "app1"}
    {"type": "result", "at": 2.0, "id": "uuid", "host": "app1", "status": "ok" | "failed" | "skipped" |
     "unreachable", "ignored": false, "result": safe_result(...)}

``safe_result`` keeps of a task's result only the fields the report reads (never the invocation, so never a
module argument), keeps a ``no_log`` result censored, and masks URL credentials and ``password=`` values.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import scrub

REPORT_VERSION = 1
COLLECTION_PREFIX = "zerodown.deploy."

#: Per-host phases, in the order a batch runs them; ``rollback`` segments keep the step they undo as ``detail``.
PHASES = ("stage", "drain", "stop", "switch", "start", "ready", "enable", "shift", "canary", "prune", "rollback")
#: Extra marks on a host row.
MARKS = ("failed", "unreachable")

#: The result fields the report reads, per module of the collection; nothing else of a result is kept.
KEEP: Dict[str, Tuple[str, ...]] = {
    "release": ("previous", "current", "actions", "seconds", "ready", "restarted", "pruned", "ansible_facts"),
    "drain_backend": (
        "previous",
        "current",
        "drain_seconds",
        "drained_at",
        "sessions_at_start",
        "sessions_by_server",
        "killed_sessions",
        "timed_out",
        "remaining",
    ),
    "switch_traffic": ("previous", "current", "changes", "serving"),
    "canary_analysis": (
        "verdict",
        "reason",
        "failures",
        "canary",
        "baseline",
        "tests",
        "latency_ratio",
        "thresholds",
        "servers",
        "canary_servers",
        "baseline_servers",
        "step_seconds",
        "waited_seconds",
        "taken_out",
        "until_out",
        "looks",
        "looked",
        "enough_at",
        "analysis",
    ),
    "readiness_probe": ("ready", "elapsed", "results"),
    "migration_check": ("compatible", "files", "findings"),
    "smoke_test": ("passed", "elapsed", "failed_checks", "checks"),
    "deploy_ledger": ("ledger", "summary"),
    "deploy_plan": ("ansible_facts", "plan"),  # plan: a result kept once already (safe_result is idempotent)
    # the lock starts the ledger and finishes it in the same calls (its ledger option)
    "deploy_lock": ("ledger", "summary"),
    "blue_green_state": ("live", "idle", "colours"),
    "host_requirements": ("missing", "hosts"),
}
GENERIC_KEEP = ("msg", "changed", "failed", "skipped", "unreachable")
#: Of the plan fact, what the report shows (hosts, batches, servers; never artifact sources or URLs).
PLAN_KEEP = ("run_id", "app", "release", "strategy", "app_hosts", "lb_hosts", "batches", "servers", "lock_host")
LEDGER_KEEP = ("app", "run_id", "release", "outcome", "cause", "started_epoch", "duration", "hosts", "batches")
LEDGER_KEEP += ("phases", "steps", "lb_state")
READY_KEEP = ("ready", "elapsed", "broken")
PROBE_RESULT_KEEP = ("url", "ready", "time_to_ready", "attempt_count", "successes", "failures", "last_reason")
CHECK_KEEP = ("name", "passed", "skipped", "rounds_passed", "rounds_failed", "latency_ms_max", "reasons")


def module_name(action: Optional[str]) -> Optional[str]:
    """The short name of one of this collection's modules (``zerodown.deploy.release`` -> ``release``); None for
    any other action."""
    if not action:
        return None
    if action.startswith(COLLECTION_PREFIX):
        short = action[len(COLLECTION_PREFIX) :]
        return short if short in KEEP else None
    return action if action in KEEP else None


def _pick(data: Mapping[str, Any], keys: Iterable[str]) -> Dict[str, Any]:
    return {k: data[k] for k in keys if k in data}


def _is_censored(raw: Mapping[str, Any]) -> bool:
    return bool(raw.get("_ansible_no_log")) or "censored" in raw


def _narrow_plan(out: Dict[str, Any], raw: Mapping[str, Any]) -> None:
    plan = (out.pop("ansible_facts", None) or {}).get("zerodown_plan", out.pop("plan", None))
    if isinstance(plan, Mapping):
        out["plan"] = _pick(plan, PLAN_KEEP)


def _narrow_release(out: Dict[str, Any], raw: Mapping[str, Any]) -> None:
    state = (out.pop("ansible_facts", None) or {}).get("zerodown_release_state")
    if isinstance(state, Mapping):
        out["release_state"] = _pick(state, ("host", "release", "previous"))
    if isinstance(out.get("ready"), Mapping):
        out["ready"] = _pick(out["ready"], READY_KEEP)


def _narrow_ledger(out: Dict[str, Any], raw: Mapping[str, Any]) -> None:
    if not isinstance(out.get("ledger"), Mapping):
        return
    out["ledger"] = _pick(out["ledger"], LEDGER_KEEP)
    if "rollback" in raw or raw.get("queried") is True:  # state=query: another run's ledger, only read
        out["queried"] = True


def _narrow_probe(out: Dict[str, Any], raw: Mapping[str, Any]) -> None:
    if isinstance(out.get("results"), list):
        out["results"] = [_pick(r, PROBE_RESULT_KEEP) for r in out["results"] if isinstance(r, Mapping)]


def _narrow_smoke(out: Dict[str, Any], raw: Mapping[str, Any]) -> None:
    if isinstance(out.get("checks"), list):
        out["checks"] = [_pick(c, CHECK_KEEP) for c in out["checks"] if isinstance(c, Mapping)]


#: Per module, what is kept inside the fields KEEP picked (nested facts and results narrowed in turn).
NARROW = {
    "deploy_plan": _narrow_plan,
    "release": _narrow_release,
    "deploy_ledger": _narrow_ledger,
    "deploy_lock": _narrow_ledger,
    "readiness_probe": _narrow_probe,
    "smoke_test": _narrow_smoke,
}


def safe_result(action: Optional[str], raw: Any) -> Dict[str, Any]:
    """What the report keeps of one task result: the fields of KEEP, loop items alike, no_log results as
    ``{"censored": true}``, secrets in strings masked."""
    if not isinstance(raw, Mapping):
        return {}
    if _is_censored(raw):
        return {"censored": True}
    short = module_name(action)
    out = _pick(raw, GENERIC_KEEP + KEEP.get(short or "", ()))
    if short in NARROW:
        NARROW[short](out, raw)
    if isinstance(raw.get("results"), list):
        out["results"] = [safe_result(action, item) for item in raw["results"]]
    return scrub(plain(out))


def plain(value: Any) -> Any:
    """JSON-ready native types (Ansible's tagged strings and mappings become str and dict)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


# -- building the report --------------------------------------------------------------------------------------


def _items(result: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    items = result.get("results")
    if isinstance(items, list) and items:
        return [i for i in items if isinstance(i, Mapping) and not i.get("skipped")]
    return [result]


def _servers_of(item: Mapping[str, Any], key: str) -> Dict[str, Dict[str, Dict[str, Any]]]:
    """``{lb: {server: {...}}}`` from a load-balancer module's result field, {} when absent or malformed."""
    value = item.get(key)
    if not isinstance(value, Mapping):
        return {}
    return {
        str(lb): {str(s): dict(v) for s, v in servers.items() if isinstance(v, Mapping)}
        for lb, servers in value.items()
        if isinstance(servers, Mapping)
    }


def _shares(amounts: Mapping[str, float]) -> Dict[str, float]:
    """Each release's part of the total (0.0 each when the total is 0), by release name."""
    total = sum(amounts.values())
    return {r: round(n / total, 4) if total else 0.0 for r, n in sorted(amounts.items())}


#: Ledger steps that are not a measured window (canary step, bake window).
NOT_WINDOWS = ("drain", "tally")
#: The counts of the deploy's tally besides its failed requests and requests (canary_analysis state=tally).
TALLY_DETAIL = ("http_5xx", "connection_errors", "response_errors", "retries", "redispatches")
TALLY_SOURCE = "the load balancer's count, from its counters before the deploy to the deploy's end"
WINDOWS_SOURCE = "errors the load balancer counted over the measured windows (canary steps, bake window)"
NOT_TALLIED = "this run did not read the load balancer's counters at its end"

#: What the traffic section says of its numbers, with and without measured counts.
MEASURED_NOTE = (
    "Measured: requests per release counted by the load balancer's per-server counters over each "
    "canary step or bake window (canary_analysis). By weight: the load balancer's weight of the servers "
    "in state ready per release over the whole run, as drain_backend and switch_traffic read it back."
)
WEIGHT_NOTE = (
    "No module of this run returned per-server request counts (only canary_analysis reads them: the "
    "canary strategy, or zerodown_bake_time); the share shown is the load balancer's weight of the "
    "servers in state ready per release, as drain_backend and switch_traffic read it back, not "
    "measured traffic."
)


def _stage_phase(task: Mapping[str, Any], actions: List[Any], rollback: bool) -> str:
    """The phase of a release call that did not switch: staging, pruning, or a step of the rollback."""
    if rollback:
        return "rollback"
    name = str(task.get("name") or "").lower()
    return "prune" if "prune" in name or actions == ["prune"] else "stage"


class _Builder:
    def __init__(self, events: List[Mapping[str, Any]]) -> None:
        self.events = sorted(events, key=lambda e: float(e.get("at") or 0))
        self.t0 = float(self.events[0]["at"]) if self.events else 0.0
        self.t_end = float(self.events[-1]["at"]) if self.events else 0.0
        self.tasks: Dict[str, Dict[str, Any]] = {}
        self.host_start: Dict[Tuple[str, str], float] = {}
        self.play = ""
        self.playbook: Optional[str] = None
        self.plan: Dict[str, Any] = {}
        self.ledger: Dict[str, Any] = {}
        self.ledger_queried = False
        self.summary: Dict[str, Any] = {}
        self.cause_recorded = False
        self.segments: List[Dict[str, Any]] = []
        self.lb_states: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
        self.releases: Dict[str, List[Tuple[float, Optional[str]]]] = {}
        self.drains: List[Dict[str, Any]] = []
        self.probes: List[Dict[str, Any]] = []
        self.analyses: List[Dict[str, Any]] = []
        self.migration: Optional[Dict[str, Any]] = None
        self.smoke: Optional[Dict[str, Any]] = None
        self.failures: List[Dict[str, Any]] = []
        self.hosts_seen: List[str] = []
        self.censored = 0
        self.zerodown_tasks = 0
        self.server_hosts: Dict[str, str] = {}

    # -- helpers --

    def rel(self, at: float) -> float:
        return round(float(at) - self.t0, 3)

    def index_servers(self) -> None:
        """Backend server -> inventory host, from the plan's map (else the ledger's); rebuilt when either arrives."""
        self.server_hosts = {
            entry["server"]: name
            for name, entry in (self.ledger.get("hosts") or {}).items()
            if isinstance(entry, Mapping) and entry.get("server")
        }
        self.server_hosts.update({name: host for host, name in (self.plan.get("servers") or {}).items()})

    def host_of_server(self, server: str) -> str:
        return self.server_hosts.get(server, server)  # HAProxy's default server name is the inventory hostname

    def rollback_context(self, task: Mapping[str, Any]) -> bool:
        path = os.path.basename(str(task.get("path") or "").rsplit(":", 1)[0])
        return self.cause_recorded or "rollback" in str(task.get("play") or "").lower() or path.startswith("rollback")

    def segment(self, host: str, phase: str, start: float, end: float, task: Mapping[str, Any], **extra: Any) -> None:
        rollback = extra.pop("rollback", False)
        if rollback and phase != "rollback":
            extra.setdefault("detail", phase)
            phase = "rollback"
        self.segments.append(
            dict(
                host=host,
                phase=phase,
                start=self.rel(start),
                end=self.rel(max(end, start)),
                status=extra.pop("status", "ok"),
                rollback=rollback,
                task=task.get("name") or "",
                **extra,
            )
        )
        if host not in self.hosts_seen:
            self.hosts_seen.append(host)

    def probe(self, at: float, host: str, source: str, rollback: bool, elapsed, ready, reason, **extra: Any) -> None:
        """One readiness wait: how long until ready (or why not), by the release module or readiness_probe."""
        self.probes.append(
            dict(
                at=self.rel(at),
                host=host,
                source=source,
                rollback=rollback,
                elapsed=elapsed,
                ready=ready,
                reason=reason,
                **extra,
            )
        )

    def lb_record(self, at: float, current: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
        for lb, servers in current.items():
            for server, info in servers.items():
                series = self.lb_states.setdefault(lb, {}).setdefault(server, [])
                point = {"at": self.rel(at), "state": info.get("state"), "weight": info.get("weight")}
                if not series or (series[-1]["state"], series[-1]["weight"]) != (point["state"], point["weight"]):
                    series.append(point)

    def release_at(self, host: str, at: float) -> Optional[str]:
        found = None
        for when, release in self.releases.get(host, []):
            if when <= at:
                found = release
        return found

    def set_release(self, host: str, at: float, release: Optional[str]) -> None:
        series = self.releases.setdefault(host, [])
        if not series or series[-1][1] != release:
            series.append((at, release))

    # -- events --

    def run(self) -> Dict[str, Any]:
        for event in self.events:
            kind = event.get("type")
            if kind == "playbook":
                self.playbook = event.get("name")
            elif kind == "play":
                self.play = str(event.get("name") or "")
            elif kind == "task":
                task = dict(event)
                task.setdefault("play", self.play)
                self.tasks[str(event.get("id"))] = task
                if module_name(task.get("module")):
                    self.zerodown_tasks += 1
            elif kind == "host_start":
                self.host_start[(str(event.get("id")), str(event.get("host")))] = float(event["at"])
            elif kind == "result":
                self.result(event)
        return self.report()

    def result(self, event: Mapping[str, Any]) -> None:
        task = self.tasks.get(str(event.get("id")), {"name": "", "module": None, "at": event["at"]})
        host = str(event.get("host"))
        status = event.get("status")
        end = float(event["at"])
        start = self.host_start.get((str(event.get("id")), host), float(task.get("at") or end))
        result = event.get("result") or {}
        if status == "skipped":
            return
        if result.get("censored"):
            self.censored += 1
        if status == "unreachable":
            self.segment(host, "unreachable", start, end, task, status="unreachable", rollback=False)
            self.failures.append(dict(at=self.rel(end), host=host, task=task.get("name"), msg=result.get("msg")))
            return
        failed = status == "failed" and not event.get("ignored")
        if failed:
            self.failures.append(dict(at=self.rel(end), host=host, task=task.get("name"), msg=result.get("msg")))
        short = module_name(task.get("module"))
        handler = getattr(self, "on_" + short, None) if short else None
        if handler is not None and not result.get("censored"):
            for item in _items(result):
                handler(task, host, start, end, item, status == "failed")

    def on_deploy_plan(self, task, host, start, end, item, failed) -> None:
        if isinstance(item.get("plan"), Mapping):
            self.plan = dict(item["plan"])
            self.index_servers()

    def on_deploy_ledger(self, task, host, start, end, item, failed) -> None:
        ledger = item.get("ledger")
        if not isinstance(ledger, Mapping):
            return
        first = not self.ledger
        # a ledger only read (state=query) is another run's: it names neither this run nor this run's report
        self.ledger_queried = bool(item.get("queried")) and (first or self.ledger_queried)
        self.ledger = dict(ledger)
        self.index_servers()
        if isinstance(item.get("summary"), Mapping):
            self.summary = dict(item["summary"])
        if ledger.get("cause") and ledger.get("outcome") == "running":
            self.cause_recorded = True
        if first and isinstance(ledger.get("lb_state"), Mapping):
            self.lb_record(start, _servers_of(ledger, "lb_state"))
        for name, entry in (ledger.get("hosts") or {}).items():
            if isinstance(entry, Mapping) and name not in self.releases and entry.get("previous"):
                self.set_release(name, self.t0, entry.get("previous"))

    on_deploy_lock = on_deploy_ledger

    def on_release(self, task, host, start, end, item, failed) -> None:
        rollback = self.rollback_context(task)
        state = item.get("release_state") or {}
        previous = state.get("previous") or item.get("previous")
        if host not in self.releases and previous:
            self.set_release(host, self.t0, previous)
        seconds = item.get("seconds") if isinstance(item.get("seconds"), Mapping) else None
        ready = item.get("ready") if isinstance(item.get("ready"), Mapping) else None
        status = "failed" if failed else "ok"
        if seconds or ready:
            self.switch_segments(task, host, start, end, seconds, ready, status, rollback)
        else:
            actions = item.get("actions") or []
            phase = _stage_phase(task, actions, rollback)
            self.segment(host, phase, start, end, task, status=status, rollback=rollback, actions=list(actions))
        if item.get("current") and not failed:
            self.set_release(host, end, item.get("current"))

    def switch_segments(self, task, host, start, end, seconds, ready, status, rollback) -> None:
        """A release call that switched (or waited for ready): its steps laid back from its end - ready, start,
        switch, stop - each as long as the module timed it; the first one carries the call's status."""
        spans = [("ready", float(ready.get("elapsed") or 0))] if ready else []
        spans += [(p, float(seconds.get(p) or 0)) for p in ("start", "switch", "stop")] if seconds else []
        cursor = end
        for i, (phase, length) in enumerate(spans):
            begin = max(start, cursor - length)
            extra = dict(seconds=round(length, 3))
            if phase == "ready" and ready.get("broken"):
                extra["reason"] = str(ready["broken"])
            self.segment(
                host, phase, begin, cursor, task, status=status if i == 0 else "ok", rollback=rollback, **extra
            )
            cursor = begin
        if ready:
            self.probe(end, host, "release", rollback, ready.get("elapsed"), ready.get("ready"), ready.get("broken"))

    def on_drain_backend(self, task, host, start, end, item, failed) -> None:
        rollback = self.rollback_context(task)
        current = _servers_of(item, "current") or _servers_of(item, "previous")
        # the servers the call put back into the pool first (its enable option) are read back ready
        read_back = _servers_of(item, "current")
        enabled = sorted({s for lb in read_back.values() for s, st in lb.items() if st.get("state") == "ready"})
        servers = sorted({s for lb in current.values() for s in lb} - set(enabled))
        hosts = [self.host_of_server(s) for s in servers]
        for name in [self.host_of_server(s) for s in enabled]:
            self.segment(name, "enable", start, end, task, status="failed" if failed else "ok", rollback=rollback)
        for name in hosts:
            self.segment(
                name,
                "drain",
                start,
                end,
                task,
                status="failed" if failed else "ok",
                rollback=rollback,
                seconds=item.get("drain_seconds"),
            )
        if not servers:  # it only put servers back (after a rolling deploy's last batch)
            self.lb_record(end, read_back)
            return
        self.drains.append(
            dict(
                at=self.rel(end),
                hosts=hosts,
                servers=servers,
                rollback=rollback,
                failed=failed,
                drain_seconds=item.get("drain_seconds"),
                sessions_at_start=item.get("sessions_at_start"),
                killed_sessions=item.get("killed_sessions"),
                timed_out=item.get("timed_out"),
                remaining=item.get("remaining"),
            )
        )
        self.lb_record(end, _servers_of(item, "current"))

    def on_switch_traffic(self, task, host, start, end, item, failed) -> None:
        rollback = self.rollback_context(task)
        changed: Dict[str, str] = {}
        for servers in _servers_of(item, "changes").values():
            for server, change in servers.items():
                state = change.get("state")
                phase = "enable" if state == "ready" else "drain" if state in ("drain", "maint") else "shift"
                changed.setdefault(self.host_of_server(server), phase)
        for name, phase in sorted(changed.items()):
            self.segment(name, phase, start, end, task, status="failed" if failed else "ok", rollback=rollback)
        self.lb_record(end, _servers_of(item, "current"))

    def on_canary_analysis(self, task, host, start, end, item, failed) -> None:
        if "verdict" not in item:
            return
        kind = _analysis_kind(item)
        analysis = {k: item.get(k) for k in KEEP["canary_analysis"] if k in item}
        analysis.update(at=self.rel(end), kind=kind)
        self.analyses.append(analysis)
        if kind == "canary":
            for server in item.get("canary_servers") or []:
                self.segment(
                    self.host_of_server(server),
                    "canary",
                    start,
                    end,
                    task,
                    status="ok" if item.get("verdict") == "pass" else "failed",
                    verdict=item.get("verdict"),
                )

    def on_readiness_probe(self, task, host, start, end, item, failed) -> None:
        rollback = self.rollback_context(task)
        self.segment(host, "ready", start, end, task, status="failed" if failed else "ok", rollback=rollback)
        for res in item.get("results") or []:
            self.probe(
                end,
                host,
                "readiness_probe",
                rollback,
                res.get("time_to_ready"),
                res.get("ready"),
                res.get("last_reason"),
                url=res.get("url"),
                attempts=res.get("attempt_count"),
            )

    def on_migration_check(self, task, host, start, end, item, failed) -> None:
        if "findings" in item or "compatible" in item:
            self.migration = dict(
                compatible=item.get("compatible"),
                files=[
                    {k: f.get(k) for k in ("path", "compatible", "contract")}
                    for f in item.get("files") or []
                    if isinstance(f, Mapping)
                ],
                findings=[f for f in item.get("findings") or [] if isinstance(f, Mapping)],
            )

    def on_smoke_test(self, task, host, start, end, item, failed) -> None:
        self.smoke = dict(at=self.rel(end), **{k: item.get(k) for k in KEEP["smoke_test"]})

    # -- shaping --

    def host_rows(self) -> List[Dict[str, Any]]:
        names = list(self.plan.get("app_hosts") or [])
        names += [h for h in self.hosts_seen if h not in names and h not in (self.plan.get("lb_hosts") or [])]
        order = {name: i for i, name in enumerate(PHASES + MARKS)}
        return [
            {
                "host": h,
                "segments": sorted(
                    (s for s in self.segments if s["host"] == h),
                    key=lambda s: (s["start"], order.get(s.get("detail") or s["phase"], 0)),
                ),
            }
            for h in names
        ]

    def steps(self) -> List[Dict[str, Any]]:
        """The canary steps and bake windows: the analyses seen, named from the ledger's steps (same order)."""
        recorded = [
            s for s in self.ledger.get("steps") or [] if isinstance(s, Mapping) and s.get("name") not in NOT_WINDOWS
        ]
        if len(recorded) >= len(self.analyses):
            out = []
            for step in recorded:
                entry = {k: step.get(k) for k in KEEP["canary_analysis"] if k in step}
                entry.update(name=step.get("name"), percent=step.get("percent"))
                entry["kind"] = _analysis_kind(step)
                out.append(entry)
            for entry, seen in zip(out, self.analyses):
                entry["at"] = seen["at"]
                entry["servers"] = seen.get("servers")
            return out
        return [dict(a, name=a["kind"], percent=None) for a in self.analyses]

    def traffic(self, steps: List[Dict[str, Any]]) -> Dict[str, Any]:
        # a rollout analysis counts each moved batch from when it moved: its windows overlap, so they are not summed
        measured = [
            self.measured(step)
            for step in steps
            if step.get("servers") and step.get("at") is not None and step.get("kind") != "rollout"
        ]
        times = sorted({p["at"] for lb in self.lb_states.values() for series in lb.values() for p in series})
        configured = [dict(at=at, share=_shares(self.weights_at(at))) for at in times]
        return {"measured": measured, "configured": configured, "note": MEASURED_NOTE if measured else WEIGHT_NOTE}

    def measured(self, step: Mapping[str, Any]) -> Dict[str, Any]:
        """The requests per release (and errors) the load balancer counted over one canary step or bake window."""
        by_release: Dict[str, int] = {}
        errors = 0
        for server, counts in step["servers"].items():
            requests = int((counts or {}).get("requests") or 0)
            release = self.release_at(self.host_of_server(server), self.t0 + float(step["at"])) or "unknown"
            by_release[release] = by_release.get(release, 0) + requests
            errors += int((counts or {}).get("errors") or 0)
        end = float(step["at"])
        return dict(
            start=round(max(0.0, end - float(step.get("step_seconds") or 0)), 3),
            end=end,
            name=step.get("name"),
            requests=sum(by_release.values()),
            errors=errors,
            share=_shares(by_release),
        )

    def weights_at(self, at: float) -> Dict[str, float]:
        """The weight per release of the servers in state ready at ``at`` (relative), over every load balancer."""
        weights: Dict[str, float] = {}
        for lb in self.lb_states.values():
            for server, series in lb.items():
                point = [p for p in series if p["at"] <= at][-1:] or [None]
                if point[0] and point[0]["state"] == "ready" and (point[0]["weight"] or 0) > 0:
                    release = self.release_at(self.host_of_server(server), self.t0 + at) or "unknown"
                    weights[release] = weights.get(release, 0.0) + float(point[0]["weight"])
        return weights

    def report(self) -> Dict[str, Any]:
        steps = self.steps()
        traffic = self.traffic(steps)
        ledger = self.ledger
        outcome, cause = self.outcome()
        hosts = {}
        for name, entry in sorted((ledger.get("hosts") or {}).items()):
            if isinstance(entry, Mapping):
                hosts[name] = {k: entry.get(k) for k in ("previous", "current", "server", "status", "batch")}
        lbs = [
            {
                "id": lb,
                "servers": [{"server": s, "host": self.host_of_server(s), "states": v} for s, v in sorted(m.items())],
            }
            for lb, m in sorted(self.lb_states.items())
        ]
        return {
            "version": REPORT_VERSION,
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.t_end or time.time())),
            "playbook": self.playbook,
            "started_epoch": self.t0,
            "summary": self.summary_of(outcome, cause, _failed_requests(traffic["measured"], self.tally())),
            "hosts": hosts,
            "batches": [b.get("hosts") for b in ledger.get("batches") or [] if isinstance(b, Mapping)]
            or list(self.plan.get("batches") or []),
            "timeline": {"end": self.rel(self.t_end), "hosts": self.host_rows(), "deploy_phases": self.deploy_phases()},
            "load_balancers": lbs,
            "traffic": traffic,
            "canary_steps": steps,
            "drains": self.drains,
            "probes": self.probes,
            "migration": self.migration,
            "smoke_test": self.smoke,
            "failures": self.failures,
            "zerodown_tasks": self.zerodown_tasks,
        }

    def outcome(self) -> Tuple[Any, Any]:
        """The run's outcome and cause: the ledger's, else what the failed tasks say."""
        outcome = self.ledger.get("outcome")
        if outcome in (None, "running"):
            # the run ended before the ledger was finished: refused at preflight, or stopped
            outcome = "failed" if self.failures else "unknown"
        cause = self.ledger.get("cause")
        if not cause and outcome in ("failed", "rolled_back") and self.failures:
            last = self.failures[-1]  # the deploy's last task fails with the whole cause
            cause = "%s: %s: %s" % (last["host"], last["task"], last["msg"] or "failed")
        return outcome, cause

    def summary_of(self, outcome: Any, cause: Any, failed_requests: Dict[str, Any]) -> Dict[str, Any]:
        ledger = self.ledger
        return {
            "app": ledger.get("app") or self.plan.get("app"),
            "release": ledger.get("release") or self.plan.get("release"),
            # this run's own id (its plan's): a rollback run records on the ledger of the run it rolls back, and
            # a report named after that run would overwrite the deploy's own report
            "run_id": self.plan.get("run_id") or (None if self.ledger_queried else ledger.get("run_id")),
            "ledger_run_id": ledger.get("run_id"),
            "strategy": self.plan.get("strategy"),
            "outcome": outcome,
            "cause": cause,
            "duration": ledger.get("duration") if ledger.get("duration") is not None else self.rel(self.t_end),
            "ledger_started_epoch": float(ledger.get("started_epoch") or self.t0) if ledger else None,
            "phase_seconds": self.summary.get("zerodown_phase_seconds") or {},
            "sessions_cut": self.summary.get("zerodown_sessions_cut"),
            "failed_requests": failed_requests,
            "censored_results": self.censored,
        }

    def tally(self) -> Optional[Mapping[str, Any]]:
        """The ledger's last ``tally`` step: the failed requests the load balancer counted during the deploy."""
        tallies = [s for s in self.ledger.get("steps") or [] if isinstance(s, Mapping) and s.get("name") == "tally"]
        return tallies[-1] if tallies else None

    def deploy_phases(self) -> List[Dict[str, Any]]:
        """The ledger's phases that started, on the run's time axis (one still open ends with the run)."""
        out = []
        for phase in self.ledger.get("phases") or []:
            if isinstance(phase, Mapping) and phase.get("started_epoch") is not None:
                ended = phase.get("ended_epoch")
                out.append(
                    dict(
                        name=phase.get("name"),
                        start=self.rel(phase["started_epoch"]),
                        end=self.rel(ended) if ended is not None else self.rel(self.t_end),
                        seconds=phase.get("seconds"),
                    )
                )
        return out


def _windows(measured: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The errors and requests the load balancer counted over the canary steps and the bake window, if any."""
    if not measured:
        return None
    return dict(count=sum(m["errors"] for m in measured), requests=sum(m["requests"] for m in measured))


def _analysis_kind(result: Mapping[str, Any]) -> str:
    """canary, bake or rollout: what the result says (RV analysis), else from a result of before it was returned."""
    if result.get("analysis") in ("canary", "bake", "rollout"):
        return result["analysis"]
    return "bake" if result.get("name") == "bake" or ("looks" in result and "stopped_early" not in result) else "canary"


def _failed_requests(measured: List[Dict[str, Any]], tally: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The failed requests of the run as the load balancer counted them: over the whole deploy (the ledger's
    ``tally`` step, canary_analysis state=tally), else over the measured windows (canary steps, bake window), else
    not known, with the reason."""
    windows = _windows(measured)
    out: Dict[str, Any] = {"known": False, "count": None, "requests": None, "source": None, "windows": windows}
    out.update({key: None for key in TALLY_DETAIL}, servers={}, seconds=None)
    out["reason"] = (tally or {}).get("reason") or NOT_TALLIED
    total = (tally or {}).get("total") if (tally or {}).get("measured") else None
    if isinstance(total, Mapping):
        out.update(known=True, count=total.get("failed"), requests=total.get("requests"), source=TALLY_SOURCE)
        out.update({key: total.get(key) for key in TALLY_DETAIL}, reason=None, seconds=tally.get("seconds"))
        out["servers"] = {k: dict(v) for k, v in sorted((tally.get("servers") or {}).items()) if isinstance(v, Mapping)}
    elif windows:
        out.update(known=True, count=windows["count"], requests=windows["requests"], source=WINDOWS_SOURCE)
    return out


def build_report(events: List[Mapping[str, Any]]) -> Dict[str, Any]:
    """The report of one run (JSON-ready) from its events (see the module docstring)."""
    return _Builder(list(events)).run()
