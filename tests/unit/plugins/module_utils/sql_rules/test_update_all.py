"""Rule ``update_all``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/update_all.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "update_all"

UNSAFE = [
    (
        "postgresql",
        "UPDATE users SET active = true;",
    ),
    (
        "mysql",
        "UPDATE users SET active = 1 WHERE true;",
    ),
    (
        "sqlite",
        "UPDATE users SET active = 1;",
    ),
]

SAFE = [
    (
        "postgresql",
        "UPDATE users SET active = true WHERE active IS NULL;",
    ),
    (
        "mysql",
        "UPDATE users SET active = 1 WHERE id < 1000 LIMIT 100;",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
