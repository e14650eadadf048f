"""Rule ``delete_all``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/delete_all.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "delete_all"

UNSAFE = [
    (
        "postgresql",
        "DELETE FROM sessions;",
    ),
    (
        "mysql",
        "DELETE FROM sessions WHERE 1=1;",
    ),
    (
        "sqlite",
        "DELETE FROM sessions;",
    ),
]

SAFE = [
    (
        "postgresql",
        "DELETE FROM sessions WHERE expires_at < now();",
    ),
    (
        "sqlite",
        "CREATE TABLE t (id int);\nDELETE FROM t;",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
