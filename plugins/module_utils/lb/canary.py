# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: canary analysis from the load balancer's own counters.

A canary step is judged from what each server did between two snapshots,
summed over every load balancer, so the canary and the baseline are measured
over exactly the same interval. Where the counts come from is a
``CounterSource``: ``HAProxyCounters`` (here) takes the difference of two
readings of ``show stat`` (``take_snapshot``, ``step``);
``_nginx_log.NginxLogCounters`` counts the lines nginx wrote to its access
log in between. Everything after the per-server ``Counts`` (``group``,
``judge``, the thresholds, ``analyze_step``'s polling) is the same for both.
Knows nothing of AnsibleModule; the canary_analysis module turns
``CanaryError`` into ``fail_json``.

What is counted, per server (HAProxy management guide, section 9.1 "CSV format")

* requests: ``stot`` (streams sent to the server; in HTTP mode one per request,
  whether it got an answer or not), and never fewer than the responses plus the
  errors below, so that a rate can never exceed 100 %.
* errors: ``hrsp_5xx`` (5xx answers from the server) + ``econ`` (could not
  connect) + ``eresp`` (no valid response: the server closed, reset or timed
  out; HAProxy answers 502/504 itself and does not count those in the server's
  ``hrsp_5xx``, so nothing is counted twice except the rare abort after a
  status line, which ``eresp`` includes as ``srv_abrt``).
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

Error rate, the statistic

The question for a step is one-sided: is the canary's error rate higher than
the baseline's? Counts are small (a 5 % step often sees a few dozen canary
requests, errors are rare, the baseline often has none), which rules out the
normal approximation of a two-proportion z-test (undefined with zero errors,
badly calibrated below ~5 expected errors). The one-sided Fisher exact test
is exact at any count: given the total number of errors of the step, the
p-value is the probability that the canary would get at least as many of them
as it did if the canary and the baseline failed at the same rate (a
hypergeometric tail, computed here in plain Python with ``math.lgamma``).
With a clean baseline and a canary share of s, one canary error has p = s, so
"1 error in 40 requests" at a 5 % step gives p = 0.05, not significant at the
default ``significance`` of 0.01, while 5 % errors over a busy step (say 50
of 1000 against 0 of 19000) gives p below 1e-60. The absolute threshold
``max_error_rate`` uses the one-sided exact binomial test the same way: the
step fails when the canary's rate is above ``max_error_rate`` and chance is
an unlikely explanation (p < ``significance``); 1 error in 40 against 1 %
has p = 0.33.

A canary with fewer than ``min_requests`` requests in the step is
``inconclusive``, never ``pass``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import Clock, WaitTimeout, wait_until
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import process_of, validate_name

# Version 1 snapshots carry ``source``; one without it (taken before nginx was supported) is HAProxy's.
SNAPSHOT_VERSION = 1
SOURCE_HAPROXY = "haproxy"
TIME_STATS_SAMPLES = 512  # HAProxy's sliding window for qtime/ctime/rtime/ttime (include/haproxy/defaults.h)
RESPONSE_FIELDS = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")
# Cumulative counters: they only grow while the same HAProxy process runs.
CUMULATIVE_FIELDS = ("stot", "lbtot", "req_tot", "econ", "eresp") + RESPONSE_FIELDS
SNAPSHOT_FIELDS = CUMULATIVE_FIELDS + ("rtime",)
VERDICTS = ("pass", "fail", "inconclusive")


class CanaryError(Exception):
    """Base class; the message is fit for a user."""


class CanaryInputError(CanaryError, ValueError):
    """A bad option value (threshold, server list, snapshot); nothing was measured."""


class CounterResetError(CanaryError):
    """HAProxy's counters went back (reload, restart, ``clear counters``) between the two snapshots."""


# -- statistics -------------------------------------------------------------------------


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _tail(log_pmf: Callable[[int], float], start: int, low: int, high: int, mode: float) -> float:
    """P(X >= start) for a unimodal discrete distribution on [low, high] given by its log pmf.

    Sums whichever side of ``start`` lies beyond the mode (the smaller
    probability), so a tiny p-value keeps its precision; walking away from the
    mode the terms only shrink, so the sum stops once they no longer count.
    """
    if start <= low:
        return 1.0
    if start > high:
        return 0.0
    if start > mode:
        return min(1.0, _sum_away(log_pmf, range(start, high + 1)))
    return max(0.0, 1.0 - _sum_away(log_pmf, range(start - 1, low - 1, -1)))


def _sum_away(log_pmf: Callable[[int], float], xs: range) -> float:
    terms: List[float] = []
    for x in xs:
        term = math.exp(log_pmf(x))
        terms.append(term)
        if term == 0.0 or (len(terms) > 1 and term < 1e-17 * terms[0]):
            break
    return math.fsum(terms)


def fisher_one_sided(canary_errors: int, canary_requests: int, baseline_errors: int, baseline_requests: int) -> float:
    """One-sided Fisher exact test p-value for "the canary's error rate is higher than the baseline's".

    The 2x2 table is (errors, successes) x (canary, baseline). Conditional on
    the step's total errors K, the canary's error count X is hypergeometric
    (N = all requests, K errors, n = canary requests); the p-value is
    P(X >= canary_errors). 1.0 when there is nothing to compare (no errors, or
    no baseline requests).
    """
    _check_counts(canary_errors, canary_requests, "canary")
    _check_counts(baseline_errors, baseline_requests, "baseline")
    total = canary_requests + baseline_requests
    errors = canary_errors + baseline_errors
    if errors == 0 or baseline_requests == 0 or canary_requests == 0:
        return 1.0
    denominator = _log_comb(total, canary_requests)

    def log_pmf(x: int) -> float:
        return _log_comb(errors, x) + _log_comb(total - errors, canary_requests - x) - denominator

    low = max(0, canary_requests + errors - total)
    high = min(errors, canary_requests)
    mode = (canary_requests + 1) * (errors + 1) / (total + 2)
    return _tail(log_pmf, canary_errors, low, high, mode)


def binomial_one_sided(errors: int, requests: int, rate: float) -> float:
    """One-sided exact binomial test p-value for "the true error rate is above ``rate``": P(X >= errors)."""
    _check_counts(errors, requests, "canary")
    if errors == 0:
        return 1.0
    if rate <= 0.0:
        return 0.0
    if rate >= 1.0:
        return 1.0
    log_p, log_q = math.log(rate), math.log1p(-rate)

    def log_pmf(x: int) -> float:
        return _log_comb(requests, x) + x * log_p + (requests - x) * log_q

    return _tail(log_pmf, errors, 0, requests, (requests + 1) * rate)


def _check_counts(errors: int, requests: int, what: str) -> None:
    if errors < 0 or requests < 0 or errors > requests:
        raise CanaryError("%s counts are inconsistent: %d errors in %d requests" % (what, errors, requests))


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


# -- thresholds and the verdict ----------------------------------------------------------


@dataclass
class Thresholds:
    min_requests: int = 100
    max_error_rate: float = 0.01
    max_latency_ratio: float = 1.5
    significance: float = 0.01
    min_latency_ms: float = 5.0

    @classmethod
    def argument_spec(cls) -> Dict[str, Dict[str, Any]]:
        """The module options for the thresholds, defaults included, from the fields above."""
        return {f.name: {"type": f.type, "default": f.default} for f in fields(cls)}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Thresholds:
        return cls(**{f.name: params[f.name] for f in fields(cls)}).check()

    def check(self) -> Thresholds:
        """Raise CanaryInputError naming the first bad value and what would be right."""
        for name, limit in THRESHOLD_LIMITS.items():
            validate.number(getattr(self, name), name, limit, CanaryInputError)
        return self


#: The range of each threshold, for canary_analysis's options and the deploy plan's zerodown_canary_* variables.
THRESHOLD_LIMITS: Dict[str, validate.Limit] = {
    "min_requests": validate.Limit(
        1, 10**9, integer=True, expect="a whole number of 1 or more (the canary requests a step needs to count)"
    ),
    "max_error_rate": validate.Limit(0, 1, expect="a fraction between 0 and 1 (0.01 means 1 %)"),
    "max_latency_ratio": validate.Limit(
        1, 1000, expect="a ratio of 1 or more, at most 1000 (1.5 fails a canary 50 % slower than the baseline)"
    ),
    "significance": validate.Limit(
        0,
        0.5,
        low_open=True,
        high_open=True,
        expect="a probability between 0 and 0.5, such as 0.01 (the p-value below which a higher canary error rate "
        "is not put down to chance)",
    ),
    "min_latency_ms": validate.Limit(0, validate.MAX_SECONDS * 1000, unit="milliseconds"),
}


@dataclass
class Verdict:
    verdict: str
    reason: str
    canary: Counts
    baseline: Counts
    thresholds: Thresholds
    fisher_p: Optional[float] = None
    binomial_p: Optional[float] = None
    latency_ratio: Optional[float] = None
    failures: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        t = self.thresholds
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "canary": self.canary.to_dict(),
            "baseline": self.baseline.to_dict(),
            "tests": {
                "error_rate_vs_baseline": {
                    "test": "one-sided Fisher exact",
                    "p_value": _p(self.fisher_p),
                    "significant": self.fisher_p is not None and self.fisher_p < t.significance,
                },
                "error_rate_vs_max": {
                    "test": "one-sided exact binomial",
                    "p_value": _p(self.binomial_p),
                    "significant": self.binomial_p is not None and self.binomial_p < t.significance,
                },
            },
            "latency_ratio": _round(self.latency_ratio, 4),
            "failures": list(self.failures),
            "thresholds": {
                "min_requests": t.min_requests,
                "max_error_rate": t.max_error_rate,
                "max_latency_ratio": t.max_latency_ratio,
                "significance": t.significance,
                "min_latency_ms": t.min_latency_ms,
            },
        }


def _p(value: Optional[float]) -> Optional[float]:
    return None if value is None else float("%.6g" % value)


def _pct(value: Optional[float]) -> str:
    return "n/a" if value is None else "%.2f %%" % (100.0 * value)


def _rate(counts: Counts) -> str:
    return "%s (%d of %d)" % (_pct(counts.error_rate), counts.errors, counts.requests)


def _ms(value: Optional[float]) -> str:
    return "n/a" if value is None else "%.1f ms" % value


@dataclass(frozen=True)
class Labels:
    """How a reason names what is judged and what it is compared with."""

    subject: str = "canary"
    reference: str = "the baseline"  # a noun phrase
    reference_s: str = "the baseline's"  # its possessive, before a measured value


CANARY_LABELS = Labels()


def judge(canary: Counts, baseline: Counts, thresholds: Thresholds, labels: Labels = CANARY_LABELS) -> Verdict:
    """pass | fail | inconclusive for one step, with a reason naming the measured values and the thresholds."""
    t = thresholds
    who, ref, refs = labels.subject, labels.reference, labels.reference_s
    if canary.requests < t.min_requests:
        return Verdict(
            "inconclusive",
            "%s served %d requests in this step, fewer than min_requests %d (errors so far: %d; %s %s): "
            "not enough traffic to judge; wait longer or send more traffic"
            % (who, canary.requests, t.min_requests, canary.errors, ref, _rate(baseline)),
            canary,
            baseline,
            t,
        )
    fisher_p = None
    if baseline.requests:
        fisher_p = fisher_one_sided(canary.errors, canary.requests, baseline.errors, baseline.requests)
    binomial_p = binomial_one_sided(canary.errors, canary.requests, t.max_error_rate)
    ratio = None
    if canary.latency_ms is not None and baseline.latency_ms is not None:
        ratio = max(canary.latency_ms, t.min_latency_ms) / max(baseline.latency_ms, t.min_latency_ms, 1e-9)

    failures = []
    notes = []
    if fisher_p is not None and fisher_p < t.significance:
        failures.append(
            "%s error rate %s is above %s %s: one-sided Fisher exact p=%.3g < significance %g"
            % (who, _rate(canary), refs, _rate(baseline), fisher_p, t.significance)
        )
    elif fisher_p is not None:
        notes.append(
            "error rate %s vs %s %s (Fisher p=%.3g >= %g)"
            % (_rate(canary), ref, _rate(baseline), fisher_p, t.significance)
        )
    else:
        notes.append("error rate %s; %s served no requests, so only max_error_rate applies" % (_rate(canary), ref))
    if canary.error_rate is not None and canary.error_rate > t.max_error_rate and binomial_p < t.significance:
        failures.append(
            "%s error rate %s is above max_error_rate %s: one-sided exact binomial p=%.3g < significance %g"
            % (who, _rate(canary), _pct(t.max_error_rate), binomial_p, t.significance)
        )
    else:
        notes.append("max_error_rate %s (binomial p=%.3g)" % (_pct(t.max_error_rate), binomial_p))
    if ratio is not None and ratio > t.max_latency_ratio:
        failures.append(
            "%s mean response time %s is %.2f x %s %s (means below min_latency_ms %g count as %g), "
            "above max_latency_ratio %g"
            % (
                who,
                _ms(canary.latency_ms),
                ratio,
                refs,
                _ms(baseline.latency_ms),
                t.min_latency_ms,
                t.min_latency_ms,
                t.max_latency_ratio,
            )
        )
    elif ratio is not None:
        notes.append(
            "mean response time %s vs %s, ratio %.2f <= max_latency_ratio %g"
            % (_ms(canary.latency_ms), _ms(baseline.latency_ms), ratio, t.max_latency_ratio)
        )
    else:
        notes.append("no response time to compare (no response from the %s or %s)" % (who, ref))
    if failures:
        return Verdict("fail", "; ".join(failures), canary, baseline, t, fisher_p, binomial_p, ratio, failures)
    reason = "%s within thresholds over %d requests: %s" % (who, canary.requests, "; ".join(notes))
    return Verdict("pass", reason, canary, baseline, t, fisher_p, binomial_p, ratio, failures)


# -- one step, end to end -----------------------------------------------------------------


def check_names(
    canary: Sequence[str],
    baseline: Optional[Sequence[str]],
    validate: Optional[Callable[[str], Any]] = None,
) -> None:
    """The canary and baseline lists on their own: not empty, safe names (``validate`` raises ValueError;
    HAProxy's server names by default), no server in both."""
    validate = validate or (lambda name: validate_name(name, "server"))
    if not canary:
        raise CanaryInputError("canary_servers is empty: name the servers that run the new release")
    for name in list(canary) + list(baseline or []):
        try:
            validate(name)
        except ValueError as exc:
            raise CanaryInputError(str(exc)) from exc
    both = sorted(set(canary) & set(baseline or []))
    if both:
        raise CanaryInputError(
            "server(s) %s are in both canary_servers and baseline_servers: a server can only be in one"
            % ", ".join(both)
        )


def check_groups(
    canary: Sequence[str],
    baseline: Optional[Sequence[str]],
    known: Sequence[str],
    validate: Optional[Callable[[str], Any]] = None,
) -> Tuple[List[str], List[str]]:
    """``check_names``, then against the servers a snapshot knows; the baseline defaults to all the others."""
    check_names(canary, baseline, validate)
    if baseline is None:
        baseline = [n for n in known if n not in canary]
    unknown = [n for n in list(canary) + list(baseline) if n not in known]
    if unknown:
        raise CanaryInputError(
            "server(s) %s are not in the snapshot (it has: %s): name servers of the backend, or take the snapshot "
            "with them" % (", ".join(sorted(unknown)), ", ".join(known) or "none")
        )
    return list(canary), list(baseline)


@dataclass
class StepResult:
    verdict: Verdict
    snapshot: Dict[str, Any]
    per_server: Dict[str, Counts]
    step_seconds: float
    waited_seconds: float

    @classmethod
    def measured(cls, verdict, since, snapshot, per_server, clock, started, **extra):
        """The result of a measurement from ``since`` to ``snapshot`` that began at ``started`` (clock time)."""
        return cls(
            verdict=verdict,
            snapshot=snapshot,
            per_server=per_server,
            step_seconds=round(max(0.0, snapshot["taken_at"] - since["taken_at"]), 3),
            waited_seconds=round(clock.monotonic() - started, 3),
            **extra,
        )


def analyze_step(
    source: Any,
    since: Mapping[str, Any],
    canary: Sequence[str],
    baseline: Sequence[str],
    thresholds: Thresholds,
    pause: float = 0.0,
    max_wait: float = 0.0,
    poll_interval: float = 1.0,
    clock: Optional[Clock] = None,
    now: Callable[[], float] = time.time,
) -> StepResult:
    """Wait ``pause`` seconds, then (while the canary has fewer than min_requests, up to ``max_wait`` more
    seconds) read the counters again and judge the step since ``since``.

    ``source`` is a CounterSource, or a mapping of HAProxy runtimes (read as ``HAProxyCounters``)."""
    if not isinstance(source, CounterSource):
        source = HAProxyCounters(source)
    clock = clock or Clock()
    started = clock.monotonic()
    names = sorted(set(canary) | set(baseline))
    backend = since["backend"]
    clock.sleep(pause)
    latest: Dict[str, Any] = {}

    def enough() -> bool:
        latest["snapshot"] = source.snapshot(backend, names, now=now)
        latest["per_server"] = source.step(since, latest["snapshot"])
        return group(latest["per_server"], canary).requests >= thresholds.min_requests

    try:
        wait_until(enough, max_wait, poll_interval, clock=clock, description="min_requests canary requests")
    except WaitTimeout:
        pass  # inconclusive: judge() says so with the counts
    per_server = latest["per_server"]
    verdict = judge(group(per_server, canary), group(per_server, baseline), thresholds)
    return StepResult.measured(verdict, since, latest["snapshot"], per_server, clock, started)
