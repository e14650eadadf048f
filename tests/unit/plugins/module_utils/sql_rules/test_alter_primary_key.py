"""Rule ``alter_primary_key``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/alter_primary_key.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "alter_primary_key"

UNSAFE = [
    (
        "postgresql",
        "ALTER TABLE users ADD PRIMARY KEY (id);",
    ),
    (
        "mysql",
        "ALTER TABLE users DROP PRIMARY KEY, ADD PRIMARY KEY (id, tenant);",
    ),
    (
        "postgresql",
        "ALTER TABLE users ADD COLUMN uid serial PRIMARY KEY;",
    ),
]

SAFE = [
    (
        "postgresql",
        "CREATE TABLE t (id int);\nALTER TABLE t ADD PRIMARY KEY (id);",
    ),
    (
        "mysql",
        "ALTER TABLE users ADD INDEX idx_a (a);",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
