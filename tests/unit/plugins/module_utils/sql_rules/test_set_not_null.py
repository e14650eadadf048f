"""Rule ``set_not_null``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/set_not_null.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "set_not_null"

UNSAFE = [
    (
        "postgresql",
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
    ),
    (
        "mysql",
        "ALTER TABLE users MODIFY email varchar(255) NOT NULL;",
        [
            "CREATE TABLE users (id int, email varchar(255));",
        ],
    ),
]

SAFE = [
    (
        "postgresql",
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
        [
            "CREATE TABLE users (id int, email text);",
            "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;",
            "ALTER TABLE users VALIDATE CONSTRAINT email_nn;",
        ],
    ),
    (
        "postgresql",
        "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;",
    ),
    (
        "mysql",
        "ALTER TABLE users MODIFY email varchar(255) NULL;",
        [
            "CREATE TABLE users (id int, email varchar(255) NOT NULL);",
        ],
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
