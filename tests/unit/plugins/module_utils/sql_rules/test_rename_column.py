"""Rule ``rename_column``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/rename_column.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "rename_column"

UNSAFE = [
    (
        "postgresql",
        "ALTER TABLE users RENAME COLUMN email TO mail;",
    ),
    (
        "mysql",
        "ALTER TABLE users CHANGE email mail varchar(255);",
    ),
    (
        "sqlite",
        "ALTER TABLE users RENAME COLUMN email TO mail;",
    ),
]

SAFE = [
    (
        "postgresql",
        "ALTER TABLE users ADD COLUMN nick text;\nALTER TABLE users RENAME COLUMN nick TO alias;",
    ),
    (
        "postgresql",
        "ALTER TABLE users RENAME CONSTRAINT users_pkey TO users_pk;",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
