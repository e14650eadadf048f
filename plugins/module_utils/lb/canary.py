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

import dataclasses
import math
import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import Clock
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.counters import (
    CounterSource,
    Counts,
    HAProxyCounters,
    _round,
    group,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.errors import CanaryInputError
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import validate_name
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.stats import (
    binomial_one_sided,
    fisher_one_sided,
    mann_whitney_greater,
)

VERDICTS = ("pass", "fail", "inconclusive")


# -- thresholds and the verdict ----------------------------------------------------------

#: Per-request response times each group needs before latency is judged by the Mann-Whitney U test (fewer: by means).
MIN_LATENCY_VALUES = 20


@dataclass
class Thresholds:
    min_requests: int = 100
    max_error_rate: float = 0.01
    max_latency_ratio: float = 1.5
    significance: float = 0.01
    min_latency_ms: float = 5.0
    # a latency breach needs the canary slower by this much too: a few ms is noise nobody rolls back for
    min_latency_increase_ms: float = 50.0
    # seconds at the start of each step whose response times are not judged (a new process is slow at first)
    warmup: float = 5.0
    # with means only (HAProxy's show stat), consecutive looks a latency breach must hold before it fails
    latency_looks: int = 3

    @classmethod
    def argument_spec(cls) -> Dict[str, Dict[str, Any]]:
        """The module options for the thresholds, defaults included, from the fields above."""
        return {f.name: {"type": f.type, "default": f.default} for f in fields(cls)}

    @classmethod
    def names(cls) -> List[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Thresholds:
        """The flat options, or where ``params["thresholds"]`` is given, its keys in their place."""
        values = {name: params[name] for name in cls.names()}
        given = params.get("thresholds")
        if given is not None:
            if not isinstance(given, Mapping):
                raise CanaryInputError("thresholds must be a dict of %s, got %r" % (", ".join(cls.names()), given))
            unknown = sorted(str(k) for k in given if k not in values)
            if unknown:
                raise CanaryInputError(
                    "thresholds has unknown key(s) %s: the keys are %s"
                    % (", ".join(repr(k) for k in unknown), ", ".join(cls.names()))
                )
            values.update(given)
        return cls(**values).check()

    def check(self) -> Thresholds:
        """Raise CanaryInputError naming the first bad value and what would be right; numbers given as text
        become numbers."""
        for name, limit in THRESHOLD_LIMITS.items():
            setattr(self, name, validate.number(getattr(self, name), name, limit, CanaryInputError))
        return self

    def to_dict(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self.names()}


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
    "min_latency_increase_ms": validate.Limit(0, validate.MAX_SECONDS * 1000, unit="milliseconds"),
    "warmup": validate.WAIT,
    "latency_looks": validate.Limit(
        1, 1000, integer=True, expect="a whole number of looks, 1 to 1000 (1 fails a latency breach at once)"
    ),
}


@dataclass
class Latency:
    """The response-time finding of one look: which test, what it measured, whether it breached."""

    test: str  # "Mann-Whitney U", "means", "none" (nothing to compare) or "warming up"
    breach: bool = False
    canary_ms: Optional[float] = None
    baseline_ms: Optional[float] = None
    ratio: Optional[float] = None
    increase_ms: Optional[float] = None
    p_value: Optional[float] = None
    values: Tuple[int, int] = (0, 0)
    warmup: float = 0.0  # seconds at the start of the step left out (0: none)
    text: str = ""

    def to_dict(self, held: Tuple[int, int]) -> Dict[str, Any]:
        return {
            "test": self.test,
            "breach": self.breach,
            "canary_ms": _round(self.canary_ms, 3),
            "baseline_ms": _round(self.baseline_ms, 3),
            "increase_ms": _round(self.increase_ms, 3),
            "p_value": _p(self.p_value),
            "values": {"canary": self.values[0], "baseline": self.values[1]},
            "warmup_excluded": self.warmup,
            "held_looks": held[0] if self.test == "means" else None,
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
    latency: Optional[Latency] = None
    held: Tuple[int, int] = (1, 1)  # (consecutive looks a means breach held, looks it needs)

    def to_dict(self) -> Dict[str, Any]:
        t = self.thresholds
        latency = self.latency
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
            "latency": latency.to_dict(self.held) if latency is not None else None,
            "latency_ratio": _round(self.latency_ratio, 4),
            "failures": list(self.failures),
            "thresholds": t.to_dict(),
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


def _mean_ms(counts: Counts) -> Optional[float]:
    if counts.latency_ms is not None:
        return counts.latency_ms
    return sum(counts.latency_values) / len(counts.latency_values) if counts.latency_values else None


def warming_up(thresholds: Thresholds) -> Latency:
    """The finding of a look within the warm-up: latency is not judged yet."""
    return Latency(
        "warming up",
        text="response time not judged yet: the first warmup %g s of the step are left out" % thresholds.warmup,
    )


def assess_latency(
    canary: Counts, baseline: Counts, thresholds: Thresholds, labels: Labels = CANARY_LABELS, warmup: float = 0.0
) -> Latency:
    """Is the canary slower than the baseline by more than both max_latency_ratio and min_latency_increase_ms?

    With at least MIN_LATENCY_VALUES per-request response times on both sides: the one-sided Mann-Whitney U test
    of the canary's values against the baseline's, each raised to max(b * max_latency_ratio,
    b + min_latency_increase_ms), at ``thresholds.significance``. Otherwise the means: the ratio (each mean at
    least min_latency_ms) above max_latency_ratio and the difference above min_latency_increase_ms."""
    t = thresholds
    who, refs = labels.subject, labels.reference_s
    c_ms, b_ms = _mean_ms(canary), _mean_ms(baseline)
    after = " (after the first %g s of the step, left out as warm-up)" % warmup if warmup else ""
    if len(canary.latency_values) >= MIN_LATENCY_VALUES and len(baseline.latency_values) >= MIN_LATENCY_VALUES:
        raised = [max(b * t.max_latency_ratio, b + t.min_latency_increase_ms) for b in baseline.latency_values]
        _u, p = mann_whitney_greater(canary.latency_values, raised)
        n = (len(canary.latency_values), len(baseline.latency_values))
        breach = p < t.significance
        text = (
            "%s response times (%d values, mean %s) %s stochastically larger than %s (%d values, mean %s) each "
            "raised to max(x max_latency_ratio %g, + min_latency_increase_ms %g ms): one-sided Mann-Whitney U "
            "p=%.3g %s significance %g%s"
            % (
                who,
                n[0],
                _ms(c_ms),
                "are" if breach else "are not shown",
                refs,
                n[1],
                _ms(b_ms),
                t.max_latency_ratio,
                t.min_latency_increase_ms,
                p,
                "<" if breach else ">=",
                t.significance,
                after,
            )
        )
        return Latency(
            "Mann-Whitney U",
            breach,
            c_ms,
            b_ms,
            _ratio(c_ms, b_ms, t),
            _diff(c_ms, b_ms),
            p,
            n,
            warmup,
            text,
        )
    if c_ms is None or b_ms is None:
        return Latency(
            "none",
            warmup=warmup,
            text="no response time to compare (no response from the %s or %s)" % (who, labels.reference),
        )
    ratio, increase = _ratio(c_ms, b_ms, t), c_ms - b_ms
    breach = ratio > t.max_latency_ratio and increase > t.min_latency_increase_ms
    text = (
        "%s mean response time %s is %.2f x %s %s (means below min_latency_ms %g count as %g) and %+.1f ms: "
        "%s max_latency_ratio %g %s min_latency_increase_ms %g%s"
        % (
            who,
            _ms(c_ms),
            ratio,
            refs,
            _ms(b_ms),
            t.min_latency_ms,
            t.min_latency_ms,
            increase,
            "above" if ratio > t.max_latency_ratio else "within",
            t.max_latency_ratio,
            "and above" if increase > t.min_latency_increase_ms else "but within",
            t.min_latency_increase_ms,
            after,
        )
    )
    return Latency("means", breach, c_ms, b_ms, ratio, increase, None, (0, 0), warmup, text)


def _ratio(c_ms: Optional[float], b_ms: Optional[float], t: Thresholds) -> Optional[float]:
    if c_ms is None or b_ms is None:
        return None
    return max(c_ms, t.min_latency_ms) / max(b_ms, t.min_latency_ms, 1e-9)


def _diff(c_ms: Optional[float], b_ms: Optional[float]) -> Optional[float]:
    return None if c_ms is None or b_ms is None else c_ms - b_ms


def judge(
    canary: Counts,
    baseline: Counts,
    thresholds: Thresholds,
    labels: Labels = CANARY_LABELS,
    latency: Optional[Latency] = None,
    held: Tuple[int, int] = (1, 1),
) -> Verdict:
    """pass | fail | inconclusive for one look, with a reason naming the measured values and the thresholds.

    Errors are judged on ``canary`` and ``baseline``; latency by ``latency`` (``assess_latency`` of the counts
    since the warm-up; by default of these same counts). ``held`` is (consecutive looks a breach of the means held,
    looks it must hold): a breach of the means fails only once it held that long; the Mann-Whitney U test needs
    no persistence."""
    t = thresholds
    who, ref, refs = labels.subject, labels.reference, labels.reference_s
    if latency is None:
        latency = assess_latency(canary, baseline, t, labels)
    if canary.requests < t.min_requests:
        return Verdict(
            "inconclusive",
            "%s served %d requests in this step, fewer than min_requests %d (errors so far: %d; %s %s): "
            "not enough traffic to judge; wait longer or send more traffic"
            % (who, canary.requests, t.min_requests, canary.errors, ref, _rate(baseline)),
            canary,
            baseline,
            t,
            latency=latency,
            held=held,
        )
    fisher_p = None
    if baseline.requests:
        fisher_p = fisher_one_sided(canary.errors, canary.requests, baseline.errors, baseline.requests)
    binomial_p = binomial_one_sided(canary.errors, canary.requests, t.max_error_rate)

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
    if latency.breach and latency.test == "means":
        persisted = "held over %d consecutive look(s), latency_looks %d" % (held[0], t.latency_looks)
        if held[0] >= held[1]:
            failures.append("%s, %s" % (latency.text, persisted))
        else:
            notes.append("%s, %s: not yet a failure" % (latency.text, persisted))
    elif latency.breach:
        failures.append(latency.text)
    else:
        notes.append(latency.text)
    ratio = latency.ratio
    if failures:
        return Verdict(
            "fail", "; ".join(failures), canary, baseline, t, fisher_p, binomial_p, ratio, failures, latency, held
        )
    reason = "%s within thresholds over %d requests: %s" % (who, canary.requests, "; ".join(notes))
    return Verdict("pass", reason, canary, baseline, t, fisher_p, binomial_p, ratio, failures, latency, held)


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


def looks(window: float, poll_interval: float) -> int:
    """How many times a window of ``window`` seconds is judged (a look every ``poll_interval`` seconds)."""
    return max(1, int(math.ceil(window / poll_interval - 1e-9)))


def look_thresholds(thresholds: Thresholds, count: int) -> Thresholds:
    """The thresholds of one look: the same, with the significance shared among ``count`` looks (Bonferroni)."""
    return dataclasses.replace(thresholds, significance=thresholds.significance / count)


@dataclass
class StepResult:
    verdict: Verdict
    snapshot: Dict[str, Any]
    per_server: Dict[str, Counts]
    step_seconds: float
    waited_seconds: float
    looks: int = 1  # planned: each look at significance / looks
    looked: int = 0  # taken
    stopped_early: bool = False  # a look failed before the step's time was up
    enough_at: int = 0  # the first look whose subject had min_requests (0: none had)

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


#: From the per-server Counts of a look, (what is judged, what it is compared with).
Compare = Callable[[Dict[str, Counts]], Tuple[Counts, Counts]]


def sequential_looks(
    source: CounterSource,
    backend: str,
    since: Mapping[str, Any],
    names: Sequence[str],
    compare: Compare,
    thresholds: Thresholds,
    pause: float,
    max_wait: float = 0.0,
    poll_interval: float = 1.0,
    clock: Optional[Clock] = None,
    now: Callable[[], float] = time.time,
    labels: Labels = CANARY_LABELS,
) -> StepResult:
    """Judge what happened since ``since`` every ``poll_interval`` seconds, for a canary step and the bake window.

    Each look reads the counters of ``names`` and judges (``compare``, then ``judge``) at significance / looks,
    looks = ceil((pause + max_wait) / poll_interval). The first look that fails ends it at once. Otherwise it ends
    when ``pause`` is over and the subject has min_requests (a pass can only come then), or when ``max_wait`` more
    seconds are over too (inconclusive with fewer). Errors count from ``since``; response times from the first
    reading at least ``warmup`` seconds into the call (a step that ends before then is judged whole). A breach of
    the means must hold over ``latency_looks`` consecutive judged looks (at the last look, over every look judged
    when there were fewer); a Mann-Whitney U breach fails at once."""
    t = thresholds
    clock = clock or Clock()
    started = clock.monotonic()
    planned = looks(pause + max_wait, poll_interval)
    per_look = look_thresholds(t, planned)
    state = _LookState(warm=since if t.warmup <= 0 else None)
    while True:
        _sleep_to_next_look(clock, started, pause, max_wait, poll_interval)
        snapshot = source.snapshot(backend, names, now=now)
        per_server = source.step(since, snapshot)
        state.looked += 1
        elapsed = clock.monotonic() - started
        subject, reference = compare(per_server)
        enough = subject.requests >= t.min_requests
        if enough and not state.enough_at:
            state.enough_at = state.looked
        last = elapsed >= pause + max_wait - 1e-9 or (elapsed >= pause - 1e-9 and enough)
        if state.warm is None and elapsed >= t.warmup - 1e-9 and not last:
            state.warm = snapshot  # response times count from here, judged from the next look
        if any(state.warm is x for x in (None, snapshot, since)):
            # within the warm-up (or none): not judged yet, unless the step ends there and is judged whole
            whole = last or state.warm is since
            latency = assess_latency(subject, reference, per_look, labels) if whole else warming_up(t)
        else:
            latency = _warm_latency(source, state.warm, snapshot, compare, per_look, labels)
        held = state.held(latency, enough, last, t.latency_looks)
        verdict = judge(subject, reference, per_look, labels, latency, held)
        if verdict.verdict == "fail" or last:
            break
    return StepResult.measured(
        verdict,
        since,
        snapshot,
        per_server,
        clock,
        started,
        looks=planned,
        looked=state.looked,
        stopped_early=verdict.verdict == "fail" and not last,
        enough_at=state.enough_at,
    )


@dataclass
class _LookState:
    """What the looks of one step carry from one to the next."""

    warm: Optional[Mapping[str, Any]] = None  # the reading after which response times count
    looked: int = 0
    enough_at: int = 0  # the first look with min_requests
    judged: int = 0  # looks whose latency was judged with min_requests
    streak: int = 0  # consecutive judged looks whose means breached

    def held(self, latency: Latency, enough: bool, last: bool, latency_looks: int) -> Tuple[int, int]:
        """(consecutive looks a means breach held, looks it needs): latency_looks, or at the last look every look
        judged when there were fewer."""
        if enough and latency.test not in ("warming up", "none"):
            self.judged += 1
            self.streak = self.streak + 1 if latency.breach else 0
        return self.streak, min(latency_looks, max(1, self.judged)) if last else latency_looks


def _sleep_to_next_look(clock: Clock, started: float, pause: float, max_wait: float, poll_interval: float) -> None:
    """Up to ``poll_interval`` seconds, so that a look lands on the end of the pause and of max_wait."""
    now = clock.monotonic()
    until = started + pause if now < started + pause - 1e-9 else started + pause + max_wait
    clock.sleep(min(poll_interval, max(0.0, until - now)))


def _warm_latency(source, warm, snapshot, compare: Compare, thresholds: Thresholds, labels: Labels) -> Latency:
    """The latency finding on the counts since the warm-up ended (``warm``)."""
    warm_subject, warm_reference = compare(source.step(warm, snapshot))
    return assess_latency(warm_subject, warm_reference, thresholds, labels, warmup=thresholds.warmup)


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
    """One canary step since ``since``, judged at every look (``sequential_looks``): fails at the first look that
    fails, passes only once ``pause`` is over with min_requests canary requests, inconclusive when ``max_wait``
    more seconds did not bring them.

    ``source`` is a CounterSource, or a mapping of HAProxy runtimes (read as ``HAProxyCounters``)."""
    if not isinstance(source, CounterSource):
        source = HAProxyCounters(source)
    names = sorted(set(canary) | set(baseline))

    def compare(per_server: Dict[str, Counts]) -> Tuple[Counts, Counts]:
        return group(per_server, canary), group(per_server, baseline)

    return sequential_looks(
        source, since["backend"], since, names, compare, thresholds, pause, max_wait, poll_interval, clock, now
    )
