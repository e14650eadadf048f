"""Rule ``invalid_waiver``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/invalid_waiver.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "invalid_waiver"

UNSAFE = [
    (
        "postgresql",
        "-- zerodown:waive drop_column\nALTER TABLE users DROP COLUMN email;",
    ),
    (
        "postgresql",
        "-- zerodown:waive no_such_rule reason: because\nSELECT 1;",
    ),
]

SAFE = [
    (
        "postgresql",
        "-- zerodown:waive drop_column reason: column unused since release 41\nALTER TABLE users DROP COLUMN email;",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
