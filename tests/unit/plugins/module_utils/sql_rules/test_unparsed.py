"""Rule ``unparsed``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/unparsed.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "unparsed"

UNSAFE = [
    (
        "postgresql",
        "ALTER TABLE users FROBNICATE everything;",
    ),
    (
        "postgresql",
        "SELECT 'unterminated;",
    ),
    (
        "postgresql",
        "DROP TYPE mood CASCADE;",
    ),
]

SAFE = [
    (
        "postgresql",
        "ALTER TABLE users ADD COLUMN nick text;",
    ),
    (
        "mysql",
        "SELECT 1;",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
