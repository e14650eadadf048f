"""Rule ``add_unique_constraint``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/add_unique_constraint.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "add_unique_constraint"

UNSAFE = [
    (
        "postgresql",
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
    ),
    (
        "mysql",
        "CREATE UNIQUE INDEX uniq_email ON users (email);",
    ),
    (
        "sqlite",
        "CREATE UNIQUE INDEX uniq_email ON users (email);",
    ),
]

SAFE = [
    (
        "postgresql",
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;",
    ),
    (
        "mysql",
        "CREATE TABLE t (id int);\nCREATE UNIQUE INDEX u ON t (id);",
    ),
    (
        "sqlite",
        "CREATE INDEX idx_email ON users (email);",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
