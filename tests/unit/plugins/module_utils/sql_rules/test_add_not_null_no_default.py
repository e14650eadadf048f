"""Rule ``add_not_null_no_default``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/add_not_null_no_default.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "add_not_null_no_default"

UNSAFE = [
    (
        "postgresql",
        "ALTER TABLE users ADD COLUMN tenant int NOT NULL;",
    ),
    (
        "mysql",
        "ALTER TABLE users ADD COLUMN tenant int NOT NULL;",
    ),
    (
        "postgresql",
        "ALTER TABLE users ADD COLUMN tenant int NOT NULL DEFAULT 1;\nALTER TABLE users ALTER COLUMN tenant DROP DEFAULT;",
    ),
    (
        "postgresql",
        "ALTER TABLE users ADD COLUMN tenant int;\nALTER TABLE users ALTER COLUMN tenant SET NOT NULL;",
    ),
    # the default of a NOT NULL column the history knows, and of a column nothing knows (the worst case: NOT NULL)
    (
        "postgresql",
        "ALTER TABLE users ALTER COLUMN status DROP DEFAULT;",
        ["CREATE TABLE users (id int PRIMARY KEY, status text NOT NULL DEFAULT 'new');"],
    ),
    ("postgresql", "ALTER TABLE users ALTER COLUMN status DROP DEFAULT;"),
    ("mysql", "ALTER TABLE users ALTER COLUMN status DROP DEFAULT;"),
]

SAFE = [
    (
        "postgresql",
        "ALTER TABLE users ALTER COLUMN status DROP DEFAULT;",
        ["CREATE TABLE users (id int PRIMARY KEY, status text DEFAULT 'new');"],
    ),
    (
        "postgresql",
        "ALTER TABLE users ADD COLUMN tenant int NOT NULL DEFAULT 1;",
    ),
    (
        "sqlite",
        "ALTER TABLE users ADD COLUMN tenant int;",
    ),
    (
        "postgresql",
        "CREATE TABLE t (id int NOT NULL);",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
