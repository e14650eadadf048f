"""Rule ``rename_table``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/rename_table.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "rename_table"

UNSAFE = [
    (
        "postgresql",
        "ALTER TABLE users RENAME TO accounts;",
    ),
    (
        "mysql",
        "RENAME TABLE users TO accounts;",
    ),
    (
        "sqlite",
        "ALTER TABLE users RENAME TO accounts;",
    ),
    (
        "postgresql",
        "ALTER TABLE users SET SCHEMA archive;",
    ),
]

SAFE = [
    (
        "postgresql",
        "CREATE TABLE draft (id int);\nALTER TABLE draft RENAME TO final;",
    ),
    (
        "mysql",
        "ALTER TABLE users RENAME INDEX idx_a TO idx_b;",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
