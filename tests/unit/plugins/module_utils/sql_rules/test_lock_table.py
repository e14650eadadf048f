"""Rule ``lock_table``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/lock_table.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "lock_table"

UNSAFE = [
    (
        "postgresql",
        "LOCK TABLE users IN ACCESS EXCLUSIVE MODE;",
    ),
    (
        "mysql",
        "LOCK TABLES users WRITE;",
    ),
    (
        "mysql",
        "ALTER TABLE users ADD COLUMN x int, LOCK=EXCLUSIVE;",
    ),
]

SAFE = [
    (
        "postgresql",
        "LOCK TABLE users IN ACCESS SHARE MODE;",
    ),
    (
        "mysql",
        "ALTER TABLE users ADD COLUMN x int, LOCK=NONE;",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
