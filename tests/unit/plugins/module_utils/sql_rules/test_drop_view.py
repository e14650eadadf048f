"""Rule ``drop_view``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/drop_view.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "drop_view"

UNSAFE = [
    (
        "postgresql",
        "DROP VIEW active_users;",
    ),
    (
        "mysql",
        "ALTER VIEW v AS SELECT id FROM users;",
    ),
    (
        "sqlite",
        "DROP VIEW IF EXISTS v;",
    ),
]

SAFE = [
    (
        "postgresql",
        "CREATE VIEW v2 AS SELECT 1;\nDROP VIEW v2;",
    ),
    (
        "sqlite",
        "CREATE VIEW v AS SELECT id FROM users;",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
