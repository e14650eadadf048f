# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: canary analysis from the load balancer's own counters - the
thresholds, the verdict and one step, end to end.

A canary step is judged from what each server did between two snapshots,
summed over every load balancer, so the canary and the baseline are measured
over exactly the same interval. Where the counts come from is a
``CounterSource`` (lb/counters.py): ``HAProxyCounters`` takes the difference
of two readings of ``show stat``; ``nginx_log.NginxLogCounters`` counts the
lines nginx wrote to its access log in between. Everything after the
per-server ``Counts`` (``judge``, the thresholds, ``analyze_step``'s polling)
is the same for both; the error-rate tests are lb/stats.py. Knows nothing of
AnsibleModule; the canary_analysis engine (lb/analyze.py) turns
``CanaryError`` into the module's failure.

A canary with fewer than ``min_requests`` requests in the step is
``inconclusive``, never ``pass``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import Clock, WaitTimeout, wait_until
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.counters import (
    CounterSource,
    Counts,
    HAProxyCounters,
    _round,
    group,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.errors import CanaryInputError
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import validate_name
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.stats import binomial_one_sided, fisher_one_sided

VERDICTS = ("pass", "fail", "inconclusive")


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
