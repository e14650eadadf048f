"""Rule ``create_index_blocking``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/create_index_blocking.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "create_index_blocking"

UNSAFE = [
    (
        "postgresql",
        "CREATE INDEX idx_users_email ON users (email);",
    ),
    (
        "postgresql",
        "CREATE UNIQUE INDEX users_email_key ON users (email);",
    ),
    (
        "postgresql",
        "REINDEX TABLE users;",
    ),
]

SAFE = [
    (
        "postgresql",
        "CREATE INDEX CONCURRENTLY idx_users_email ON users (email);",
    ),
    (
        "postgresql",
        "CREATE TABLE t (id int);\nCREATE INDEX idx_t ON t (id);",
    ),
    (
        "postgresql",
        "CREATE INDEX IF NOT EXISTS idx_users_email ON users (email);",
        [
            "CREATE TABLE users (id int, email text);",
            "CREATE INDEX idx_users_email ON users (email);",
        ],
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
