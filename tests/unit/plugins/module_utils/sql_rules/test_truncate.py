"""Rule ``truncate``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/truncate.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "truncate"

UNSAFE = [
    (
        "postgresql",
        "TRUNCATE sessions;",
    ),
    (
        "mysql",
        "TRUNCATE TABLE sessions;",
    ),
]

SAFE = [
    (
        "postgresql",
        "CREATE TABLE scratch (id int);\nTRUNCATE scratch;",
    ),
    (
        "mysql",
        "DELETE FROM sessions WHERE expires_at < NOW();",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
