# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: what each server did between two snapshots, the counts the canary
analysis (lb/canary.py) judges.

Where the counts come from is a ``CounterSource``, one per kind of load balancer (each ``Provider`` names its own,
lb/core.py): ``HAProxyCounters`` (here) takes the difference of two readings of HAProxy's ``show stat``
(``take_snapshot``, ``step``); ``nginx_log.NginxLogCounters`` counts the lines nginx wrote to its access log in
between. Both give per-server ``Counts``.

What is counted, per server (HAProxy management guide, section 9.1 "CSV format")

* requests: ``stot`` (streams sent to the server; in HTTP mode one per request,
  whether it got an answer or not), and never fewer than the responses plus the
  errors below, so that a rate can never exceed 100 %.
* errors: ``hrsp_5xx`` (5xx answers from the server) + ``econ`` (could not
  connect) + ``eresp`` (no valid response: the server closed, reset or timed
  out; HAProxy answers 502/504 itself and does not count those in the server's
  ``hrsp_5xx``, so nothing is counted twice except the rare abort after a
  status line, which ``eresp`` includes as ``srv_abrt``).
* retries and redispatches: ``wretr`` (connection attempts HAProxy retried on
  this server) and ``wredis`` (requests it sent to another server after this
  one failed); they are not failures (the client got an answer), reported
  beside them.
* response time: HAProxy keeps no cumulative response time, only ``rtime``,
  an average of the server response time (``Tr``, in whole milliseconds) over
  a sliding window (``TIME_STATS_SAMPLES`` = 512 samples, advertised as "the
  1024 last requests"). Reading ``rtime`` at the end of a step would mix in
  requests from before the step, so ``step_mean_ms`` inverts the window
  arithmetic instead: HAProxy adds each sample to a sum that decays by 1/512
  per sample once the server has served more than 512 requests (plain sum
  before that), and reports sum / min(requests, 512). Knowing ``rtime`` and
  the sample counter (``req_tot``, or ``lbtot`` in TCP mode) at both ends, the
  part of the sum contributed during the step is recovered, giving the mean
  of the step's samples; exact when the server has served fewer than 512
  requests, and weighted towards the most recent samples (weights decaying
  by 1/512 per later sample) after that. Its resolution is HAProxy's: whole
  milliseconds, smeared over the step, hence ``min_latency_ms``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from ansible_collections.zerodown.deploy.plugins.module_utils.lb.errors import (
    CanaryInputError,
    CounterResetError,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import process_of, validate_name

# Version 1 snapshots carry ``source``; one without it (taken before nginx was supported) is HAProxy's.
SNAPSHOT_VERSION = 1
SOURCE_HAPROXY = "haproxy"
TIME_STATS_SAMPLES = 512  # HAProxy's sliding window for qtime/ctime/rtime/ttime (include/haproxy/defaults.h)
RESPONSE_FIELDS = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")
# Cumulative counters: they only grow while the same HAProxy process runs.
CUMULATIVE_FIELDS = ("stot", "lbtot", "req_tot", "econ", "eresp", "wretr", "wredis") + RESPONSE_FIELDS
SNAPSHOT_FIELDS = CUMULATIVE_FIELDS + ("rtime",)
MAX_LATENCY_VALUES = 50000  # per-request response times (ms) kept per group


def step_mean_ms(
    rtime_before: float, samples_before: int, rtime_after: float, samples_after: int, window: int = TIME_STATS_SAMPLES
) -> Optional[float]:
    """Mean response time (ms) of the samples HAProxy took between two readings of ``rtime``.

    ``samples_*`` is the server's sample counter (``req_tot``; ``lbtot`` in
    TCP mode). HAProxy's window sum S gains each sample v as
    ``S = S - ceil(S / window) + v`` once more than ``window`` samples were
    taken (``S = S + v`` before), and ``rtime = S / min(samples, window)``.
    With k samples in the step of which d were taken with decay, and
    a = 1 - 1/window, ``S_after = a**d * S_before + sum(w_i * v_i)`` where the
    weights w_i sum to ``(k - d) * a**d + (1 - a**d) / (1 - a)``; the weighted
    mean of the step's samples follows. None when no sample was taken.
    """
    k = samples_after - samples_before
    if k <= 0:
        return None
    sum_before = _window_sum(rtime_before, min(samples_before, window))
    sum_after = _window_sum(rtime_after, min(samples_after, window))
    decayed = max(0, samples_after - max(samples_before, window))
    keep = (1.0 - 1.0 / window) ** decayed
    weights = (k - decayed) * keep + (1.0 - keep) * window
    return max(0.0, (sum_after - keep * sum_before) / weights)


def _window_sum(rtime: float, samples: int) -> float:
    """The window sum behind a reported average: HAProxy rounds sum / samples up, so take the middle."""
    return 0.0 if rtime <= 0 else (rtime - 0.5) * samples


# -- snapshots and deltas --------------------------------------------------------------


def _server_fields(row: Mapping[str, Any]) -> Dict[str, int]:
    return {key: row.get(key) if isinstance(row.get(key), int) else 0 for key in SNAPSHOT_FIELDS}


def take_snapshot(
    runtimes: Mapping[str, Any],
    backend: str,
    servers: Optional[Sequence[str]] = None,
    now: Callable[[], float] = time.time,
) -> Dict[str, Any]:
    """Counters of ``backend``'s servers (all, or ``servers``) on every load balancer, one round trip each.

    ``runtimes`` maps a load-balancer id (its socket address) to an
    ``HAProxyRuntime`` (or anything with ``show_info()`` and
    ``show_stat(backend)``). The process id and start time are kept so that a
    later ``step`` can tell a reloaded HAProxy from a quiet one.
    """
    validate_name(backend, "backend")
    for name in servers or ():
        validate_name(name, "server")
    load_balancers: Dict[str, Any] = {}
    for lb_id, runtime in runtimes.items():
        info = runtime.show_info()
        rows = runtime.show_stat(backend)
        if not rows:
            raise CanaryInputError("HAProxy at %s has no backend %r: check backend" % (lb_id, backend))
        found = {r["svname"]: _server_fields(r) for r in rows if r.get("svname") not in ("FRONTEND", "BACKEND")}
        missing = [n for n in servers or () if n not in found]
        if missing:
            raise CanaryInputError(
                "HAProxy at %s: backend %r has no server %s (it has: %s)"
                % (lb_id, backend, ", ".join(repr(m) for m in missing), ", ".join(sorted(found)) or "none")
            )
        wanted = list(servers) if servers else sorted(found)
        load_balancers[lb_id] = dict(process_of(info), servers={name: found[name] for name in wanted})
    return new_snapshot(SOURCE_HAPROXY, backend, load_balancers, now)


def new_snapshot(
    source: str, backend: str, load_balancers: Dict[str, Any], now: Callable[[], float] = time.time
) -> Dict[str, Any]:
    """The envelope every counter source puts its per-load-balancer entries in (JSON-serialisable)."""
    return {
        "version": SNAPSHOT_VERSION,
        "source": source,
        "backend": backend,
        "taken_at": now(),
        "load_balancers": load_balancers,
    }


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


SNAPSHOT_FIX = "pass the 'snapshot' value an earlier canary_analysis call returned"


def check_envelope(
    since: Any,
    backend: str,
    lb_ids: Sequence[str],
    source: str,
    same: str = "give the same socket list as the snapshot call",
) -> float:
    """What every snapshot given back as ``since`` must hold, whatever its source; returns its ``taken_at``."""
    fix = SNAPSHOT_FIX
    if not isinstance(since, Mapping) or not isinstance(since.get("load_balancers"), Mapping):
        raise CanaryInputError("since must be a snapshot (a dict with load_balancers), got %r: %s" % (since, fix))
    if since.get("version") != SNAPSHOT_VERSION:
        raise CanaryInputError(
            "since has snapshot version %r, this module reads version %d: %s"
            % (since.get("version"), SNAPSHOT_VERSION, fix)
        )
    given_source = since.get("source", SOURCE_HAPROXY)
    if given_source != source:
        raise CanaryInputError(
            "since holds %s counters, this call reads %s counters: %s with the same provider"
            % (given_source, source, fix)
        )
    if since.get("backend") != backend:
        raise CanaryInputError(
            "since was taken for backend %r, this call is for backend %r: use the same backend"
            % (since.get("backend"), backend)
        )
    given, wanted = set(since["load_balancers"]), set(lb_ids)
    if given != wanted:
        raise CanaryInputError(
            "since covers load balancer(s) %s but this call reads %s: %s"
            % (", ".join(sorted(given)) or "none", ", ".join(sorted(wanted)), same)
        )
    try:
        return float(since.get("taken_at", 0))
    except (TypeError, ValueError):
        raise CanaryInputError(
            "since.taken_at must be a number (epoch seconds), got %r: %s" % (since["taken_at"], fix)
        ) from None


def check_count(value: Any, what: str) -> int:
    """A counter or offset given back through JSON (an int, or its digits as a string)."""
    if isinstance(value, bool) or not str(value).isdigit():
        raise CanaryInputError("since: %s is %r, not a count: %s" % (what, value, SNAPSHOT_FIX))
    return int(value)


def check_snapshot(since: Any, backend: str, lb_ids: Sequence[str]) -> Dict[str, Any]:
    """Validate a HAProxy snapshot given back by the user (``since``); return it with integer counters."""
    fix = SNAPSHOT_FIX
    taken_at = check_envelope(since, backend, lb_ids, SOURCE_HAPROXY)
    out: Dict[str, Any] = {}
    for lb_id, entry in since["load_balancers"].items():
        servers = entry.get("servers") if isinstance(entry, Mapping) else None
        if not isinstance(servers, Mapping):
            raise CanaryInputError("since.load_balancers[%r] has no servers map: %s" % (lb_id, fix))
        checked = {}
        for name, counters in servers.items():
            if not isinstance(counters, Mapping):
                raise CanaryInputError("since: server %r on %s has no counters: %s" % (name, lb_id, fix))
            checked[name] = {
                key: check_count(counters.get(key, 0), "counter %s of server %r on %s" % (key, name, lb_id))
                for key in SNAPSHOT_FIELDS
            }
        out[lb_id] = {
            "pid": _int(entry.get("pid")),
            "started": _int(entry.get("started")),
            "servers": checked,
        }
    return new_snapshot(SOURCE_HAPROXY, backend, out, lambda: taken_at)


def snapshot_servers(snapshot: Mapping[str, Any]) -> List[str]:
    """Every server named in a snapshot, on any load balancer, sorted."""
    return sorted({name for entry in snapshot["load_balancers"].values() for name in entry["servers"]})


@dataclass
class Counts:
    """What a server (or a group of servers) did over one step."""

    requests: int = 0
    responses: int = 0
    http_5xx: int = 0
    connection_errors: int = 0
    response_errors: int = 0
    latency_samples: int = 0
    latency_weighted_ms: float = 0.0  # mean * samples, so groups add up
    retries: int = 0  # HAProxy's wretr: not failures, the client got an answer
    redispatches: int = 0  # HAProxy's wredis
    latency_values: List[float] = field(default_factory=list, repr=False, compare=False)

    @property
    def errors(self) -> int:
        return min(self.requests, self.http_5xx + self.connection_errors + self.response_errors)

    @property
    def error_rate(self) -> Optional[float]:
        return self.errors / self.requests if self.requests else None

    @property
    def latency_ms(self) -> Optional[float]:
        return self.latency_weighted_ms / self.latency_samples if self.latency_samples else None

    def add(self, other: Counts) -> Counts:
        return Counts(
            self.requests + other.requests,
            self.responses + other.responses,
            self.http_5xx + other.http_5xx,
            self.connection_errors + other.connection_errors,
            self.response_errors + other.response_errors,
            self.latency_samples + other.latency_samples,
            self.latency_weighted_ms + other.latency_weighted_ms,
            self.retries + other.retries,
            self.redispatches + other.redispatches,
            (self.latency_values + other.latency_values)[:MAX_LATENCY_VALUES],
        )

    def to_dict(self) -> Dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": _round(self.error_rate, 6),
            "http_5xx": self.http_5xx,
            "connection_errors": self.connection_errors,
            "response_errors": self.response_errors,
            "latency_ms": _round(self.latency_ms, 3),
            "retries": self.retries,
            "redispatches": self.redispatches,
        }


def _round(value: Optional[float], digits: int) -> Optional[float]:
    return None if value is None else round(value, digits)


def server_delta(before: Mapping[str, int], after: Mapping[str, int], where: str) -> Counts:
    """One server's Counts between two snapshots of the same HAProxy process; raise if a counter went back."""
    went_back = [
        "%s %d -> %d" % (key, before.get(key, 0), after.get(key, 0))
        for key in CUMULATIVE_FIELDS
        if after.get(key, 0) < before.get(key, 0)
    ]
    if went_back:
        raise CounterResetError(
            "%s: counters went back since the snapshot (%s): HAProxy was reloaded or restarted, or its counters "
            "were cleared, so this step cannot be measured; take a new snapshot and measure the next step"
            % (where, ", ".join(went_back))
        )

    def delta(key: str) -> int:
        return after.get(key, 0) - before.get(key, 0)

    responses = sum(delta(k) for k in RESPONSE_FIELDS)
    econ, eresp = delta("econ"), delta("eresp")
    # HTTP mode counts latency samples in req_tot; TCP mode has none there and uses lbtot.
    sample_key = "req_tot" if after.get("req_tot", 0) else "lbtot"
    samples = delta(sample_key)
    mean = step_mean_ms(
        before.get("rtime", 0), before.get(sample_key, 0), after.get("rtime", 0), after.get(sample_key, 0)
    )
    return Counts(
        requests=max(delta("stot"), responses + econ + eresp),
        responses=responses,
        http_5xx=delta("hrsp_5xx"),
        connection_errors=econ,
        response_errors=eresp,
        latency_samples=samples if mean is not None else 0,
        latency_weighted_ms=mean * samples if mean is not None else 0.0,
        retries=delta("wretr"),
        redispatches=delta("wredis"),
    )


def step(since: Mapping[str, Any], now: Mapping[str, Any]) -> Dict[str, Counts]:
    """Per server read in ``now``, its Counts since ``since``, summed over every load balancer."""
    out: Dict[str, Counts] = {}
    for lb_id, before in since["load_balancers"].items():
        after = now["load_balancers"].get(lb_id)
        if after is None:
            raise CanaryInputError("load balancer %s is in the snapshot but was not read now" % lb_id)
        if (before["pid"], before["started"]) != (after["pid"], after["started"]):
            raise CounterResetError(
                "HAProxy at %s is not the process the snapshot was taken from (pid %s started at %s, now pid %s "
                "started at %s): it was reloaded or restarted and its counters started again from zero, so this "
                "step cannot be measured; take a new snapshot and measure the next step"
                % (lb_id, before["pid"], before["started"], after["pid"], after["started"])
            )
        for name, counters in after["servers"].items():
            if name not in before["servers"]:
                raise CanaryInputError(
                    "HAProxy at %s: server %r is not in the snapshot given as since: take the snapshot with it"
                    % (lb_id, name)
                )
            delta = server_delta(before["servers"][name], counters, "HAProxy at %s, server %s" % (lb_id, name))
            out[name] = out.get(name, Counts()).add(delta)
    return out


class CounterSource:
    """Where a step's per-server Counts come from; everything that judges them is the same for every source.

    * ``snapshot(backend, servers, now)`` -> a JSON-serialisable snapshot (``new_snapshot``: version, source,
      backend, taken_at, load_balancers {id: {..., "servers": {name: ...}}}) of ``servers`` (all when None)
    * ``check(since, backend)`` -> a snapshot given back by the user, validated (CanaryInputError)
    * ``step(since, now)`` -> {server: Counts} between two snapshots, summed over the load balancers;
      CounterResetError when the interval cannot be measured
    """

    kind = "abstract"

    def snapshot(
        self, backend: str, servers: Optional[Sequence[str]] = None, now: Callable[[], float] = time.time
    ) -> Dict[str, Any]:
        raise NotImplementedError

    def check(self, since: Any, backend: str) -> Dict[str, Any]:
        raise NotImplementedError

    def step(self, since: Mapping[str, Any], now: Mapping[str, Any]) -> Dict[str, Counts]:
        raise NotImplementedError

    def reference(self, before: Mapping[str, Any]) -> Counts:
        """What the servers of ``before`` had done until it was taken, summed (the bake window's reference)."""
        raise NotImplementedError


class HAProxyCounters(CounterSource):
    """HAProxy's ``show stat`` counters over one or more runtime APIs ({id: HAProxyRuntime})."""

    kind = SOURCE_HAPROXY

    def __init__(self, runtimes: Mapping[str, Any]) -> None:
        self.runtimes = runtimes

    def snapshot(
        self, backend: str, servers: Optional[Sequence[str]] = None, now: Callable[[], float] = time.time
    ) -> Dict[str, Any]:
        return take_snapshot(self.runtimes, backend, servers, now=now)

    def check(self, since: Any, backend: str) -> Dict[str, Any]:
        return check_snapshot(since, backend, list(self.runtimes))

    def step(self, since: Mapping[str, Any], now: Mapping[str, Any]) -> Dict[str, Counts]:
        return step(since, now)

    def reference(self, before: Mapping[str, Any]) -> Counts:
        """Every server since HAProxy started: its cumulative counters, and ``rtime`` (its last 512 responses)."""
        zero = {
            "load_balancers": {
                lb_id: {"pid": entry["pid"], "started": entry["started"], "servers": {n: {} for n in entry["servers"]}}
                for lb_id, entry in before["load_balancers"].items()
            }
        }
        return group(step(zero, before), snapshot_servers(before))


def group(per_server: Mapping[str, Counts], names: Sequence[str]) -> Counts:
    total = Counts()
    for name in names:
        total = total.add(per_server.get(name, Counts()))
    return total
