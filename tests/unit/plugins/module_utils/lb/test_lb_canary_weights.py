"""_lb.canary_weights: HAProxy weights for a canary traffic share."""

from __future__ import annotations

from fractions import Fraction

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb

CANARY1 = ["c1"]
BASE3 = ["b1", "b2", "b3"]


@pytest.mark.parametrize(
    ("percent", "canary_weight", "baseline_weight"),
    [(0, 0, 1), (5, 3, 19), (25, 1, 1), (50, 3, 1), (100, 1, 0), (1, 1, 33), (12.5, 3, 7)],
)
def test_usual_steps_are_exact_and_small(percent, canary_weight, baseline_weight):
    weights = lb.canary_weights(CANARY1, BASE3, percent)
    assert weights == {"c1": canary_weight, "b1": baseline_weight, "b2": baseline_weight, "b3": baseline_weight}
    assert lb.canary_share(weights, CANARY1) == pytest.approx(percent)


def test_at_100_percent_the_baseline_gets_nothing_and_stays_out_of_serving():
    weights = lb.canary_weights(["c1", "c2"], BASE3, 100)
    assert weights == {"c1": 1, "c2": 1, "b1": 0, "b2": 0, "b3": 0}
    states = {"lb": {name: {"state": "ready", "weight": w} for name, w in weights.items()}}
    assert lb.serving(states) == {"lb": ["c1", "c2"]}


def test_beyond_what_0_256_allows_the_closest_share():
    weights = lb.canary_weights(CANARY1, BASE3, 99)
    assert weights == {"c1": 256, "b1": 1, "b2": 1, "b3": 1}
    assert lb.canary_share(weights, CANARY1) == pytest.approx(100 * 256 / 259)


def test_canary_without_baseline_only_at_100():
    assert lb.canary_weights(CANARY1, [], 100) == {"c1": 1}
    with pytest.raises(lb.LBValidationError, match="needs baseline servers"):
        lb.canary_weights(CANARY1, [], 50)


@pytest.mark.parametrize(
    ("canary", "baseline", "percent", "message"),
    [
        ([], BASE3, 5, "no canary servers"),
        (["b1"], BASE3, 5, "both canary and baseline"),
        (["c1", "c1"], BASE3, 5, "listed twice"),
        (CANARY1, BASE3, -1, "between 0 and 100"),
        (CANARY1, BASE3, 101, "between 0 and 100"),
        (CANARY1, BASE3, "5", "between 0 and 100"),
        (CANARY1, BASE3, True, "between 0 and 100"),
    ],
)
def test_bad_input(canary, baseline, percent, message):
    with pytest.raises(lb.LBValidationError, match=message):
        lb.canary_weights(canary, baseline, percent)


def test_max_weight_is_checked():
    with pytest.raises(lb.LBValidationError, match="max_weight"):
        lb.canary_weights(CANARY1, BASE3, 5, max_weight=257)


def _best_possible(c: int, b: int, target: Fraction, max_weight: int) -> Fraction:
    """Brute force over every per-server assignment of the group sums (tiny groups only)."""
    return min(
        abs(Fraction(cs, cs + bs) - target)
        for cs in range(c, c * max_weight + 1)
        for bs in range(b, b * max_weight + 1)
    )


@pytest.mark.parametrize(("c", "b"), [(1, 1), (1, 3), (2, 3), (3, 2)])
def test_properties_over_many_shares(c, b):
    """For every whole percentage: weights in range, even within a group, and as close as any assignment."""
    canary = ["c%d" % i for i in range(c)]
    baseline = ["b%d" % i for i in range(b)]
    max_weight = 16  # small enough to brute-force every alternative
    for percent in range(0, 101):
        weights = lb.canary_weights(canary, baseline, percent, max_weight=max_weight)
        assert set(weights) == set(canary) | set(baseline)
        assert all(0 <= w <= max_weight for w in weights.values())
        for names in (canary, baseline):
            values = [weights[n] for n in names]
            assert max(values) - min(values) <= 1, (percent, weights)
        if 0 < percent < 100:
            assert all(w >= 1 for w in weights.values()), (percent, weights)
            target = Fraction(percent, 100)
            got = Fraction(sum(weights[n] for n in canary), sum(weights.values()))
            assert abs(got - target) == _best_possible(c, b, target, max_weight), (percent, weights)


def test_share_rises_with_the_step():
    shares = [lb.canary_share(lb.canary_weights(CANARY1, BASE3, p), CANARY1) for p in range(0, 101)]
    assert all(a <= b for a, b in zip(shares, shares[1:]))
