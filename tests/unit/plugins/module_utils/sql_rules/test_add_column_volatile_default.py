"""Rule ``add_column_volatile_default``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/add_column_volatile_default.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "add_column_volatile_default"

UNSAFE = [
    (
        "postgresql",
        "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
    ),
    (
        "postgresql",
        "ALTER TABLE users ADD COLUMN seq bigserial;",
    ),
]

SAFE = [
    (
        "postgresql",
        "ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now();",
    ),
    (
        "postgresql",
        "ALTER TABLE users ADD COLUMN active boolean DEFAULT true;",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
