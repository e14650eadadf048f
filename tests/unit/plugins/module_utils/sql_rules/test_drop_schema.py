"""Rule ``drop_schema``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/drop_schema.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "drop_schema"

UNSAFE = [
    (
        "postgresql",
        "DROP SCHEMA reporting CASCADE;",
    ),
    (
        "mysql",
        "DROP DATABASE legacy;",
    ),
    (
        "postgresql",
        "ALTER SCHEMA reporting RENAME TO reports;",
    ),
]

SAFE = [
    (
        "postgresql",
        "CREATE SCHEMA scratch;\nDROP SCHEMA scratch;",
    ),
    (
        "postgresql",
        "CREATE SCHEMA IF NOT EXISTS reporting;",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
