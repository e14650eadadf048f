"""Rule ``table_rewrite``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/table_rewrite.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "table_rewrite"

UNSAFE = [
    (
        "postgresql",
        "VACUUM FULL users;",
    ),
    (
        "postgresql",
        "ALTER TABLE users SET TABLESPACE fast;",
    ),
    (
        "mysql",
        "ALTER TABLE users ENGINE=InnoDB;",
    ),
    (
        "mysql",
        "ALTER TABLE users ADD COLUMN x int, ALGORITHM=COPY;",
    ),
    (
        "mysql",
        "ALTER TABLE users MODIFY name varchar(300);",
        [
            "CREATE TABLE users (id int, name varchar(60));",
        ],
    ),
]

SAFE = [
    (
        "postgresql",
        "VACUUM users;",
    ),
    (
        "mysql",
        "ALTER TABLE users ADD COLUMN x int, ALGORITHM=INSTANT;",
    ),
    (
        "mysql",
        "ALTER TABLE users MODIFY name varchar(60);",
        [
            "CREATE TABLE users (id int, name varchar(40));",
        ],
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
