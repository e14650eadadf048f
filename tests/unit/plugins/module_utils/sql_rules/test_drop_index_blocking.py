"""Rule ``drop_index_blocking``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/drop_index_blocking.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "drop_index_blocking"

UNSAFE = [
    (
        "postgresql",
        "DROP INDEX idx_users_email;",
    ),
    (
        "postgresql",
        "DROP INDEX IF EXISTS idx_a, idx_b;",
    ),
]

SAFE = [
    (
        "postgresql",
        "DROP INDEX CONCURRENTLY idx_users_email;",
    ),
    (
        "postgresql",
        "CREATE INDEX idx_x ON brand_new (id);\nDROP INDEX idx_x;",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
