"""Rule ``add_constraint_validating``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/add_constraint_validating.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "add_constraint_validating"

UNSAFE = [
    (
        "postgresql",
        "ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0);",
    ),
    (
        "postgresql",
        "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);",
    ),
    (
        "postgresql",
        "ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT c;",
    ),
]

SAFE = [
    (
        "postgresql",
        "ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID;",
    ),
    (
        "postgresql",
        "ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID;\nCOMMIT;\nBEGIN;\nALTER TABLE users VALIDATE CONSTRAINT c;",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
