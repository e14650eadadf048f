# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the statistics of the canary analysis (lb/canary.py), plain Python.

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

Latency, the statistic

Where the load balancer logs each request's response time (nginx's access
log, HAProxy's log), the question "is the canary slower than the baseline by
more than we tolerate?" has a real test: each baseline value b is raised to
the tolerated value max(b * max_latency_ratio, b + min_latency_increase_ms),
and the one-sided Mann-Whitney U test asks whether the canary's values are
stochastically larger than those raised values. It is rank-based (response
times are skewed, a few slow requests do not dominate it) and with the
thousands of values of a step its normal approximation is accurate; ties
(whole milliseconds) are corrected for. Plain Python: this code runs on the
managed hosts, where scipy is not to be assumed.
"""

from __future__ import annotations

import math
from typing import Callable, List, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils.lb.errors import CanaryError


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


def mann_whitney_greater(xs: Sequence[float], ys: Sequence[float]) -> Tuple[float, float]:
    """One-sided Mann-Whitney U test for "the values ``xs`` are stochastically larger than ``ys``": (U, p).

    U counts the pairs (x, y) with x > y, ties counting one half. Its p-value is
    the normal approximation with the tie correction of the variance and a
    continuity correction of 1/2 (as scipy.stats.mannwhitneyu with
    ``alternative="greater", method="asymptotic"``). p is 1.0 when either
    sample is empty or every value is the same.
    """
    n1, n2 = len(xs), len(ys)
    if not n1 or not n2:
        return 0.0, 1.0
    pooled = sorted([(float(v), 0) for v in xs] + [(float(v), 1) for v in ys])
    total = n1 + n2
    rank_sum_x = 0.0
    ties = 0.0
    i = 0
    while i < total:
        j = i
        while j + 1 < total and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        run = j - i + 1
        average_rank = (i + j) / 2.0 + 1.0
        rank_sum_x += average_rank * sum(1 for k in range(i, j + 1) if pooled[k][1] == 0)
        ties += run**3 - run
        i = j + 1
    u = rank_sum_x - n1 * (n1 + 1) / 2.0
    mean = n1 * n2 / 2.0
    variance = n1 * n2 / 12.0 * ((total + 1) - ties / (total * (total - 1)))
    if variance <= 0:
        return u, 1.0
    z = (u - mean - 0.5) / math.sqrt(variance)
    return u, 0.5 * math.erfc(z / math.sqrt(2.0))


def _check_counts(errors: int, requests: int, what: str) -> None:
    if errors < 0 or requests < 0 or errors > requests:
        raise CanaryError("%s counts are inconsistent: %d errors in %d requests" % (what, errors, requests))
