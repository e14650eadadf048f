"""Rule ``alter_type``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/alter_type.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "alter_type"

UNSAFE = [
    (
        "postgresql",
        "ALTER TABLE users ALTER COLUMN age TYPE bigint;",
    ),
    (
        "postgresql",
        "ALTER TABLE users ALTER COLUMN name TYPE varchar(50);",
        [
            "CREATE TABLE users (id int, name varchar(100));",
        ],
    ),
    (
        "mysql",
        "ALTER TABLE users MODIFY age bigint;",
        [
            "CREATE TABLE users (id int, age int);",
        ],
    ),
    (
        "postgresql",
        "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';",
    ),
]

SAFE = [
    # a column renamed earlier keeps its place, so SELECT * in a rebuild copies each column to itself
    (
        "sqlite",
        "CREATE TABLE d_new (uuid TEXT NOT NULL PRIMARY KEY, atype INTEGER NOT NULL, token TEXT);\n"
        "INSERT INTO d_new SELECT * FROM d;\nDROP TABLE d;\nALTER TABLE d_new RENAME TO d;",
        [
            "CREATE TABLE d (uuid TEXT NOT NULL PRIMARY KEY, type INTEGER NOT NULL, token TEXT);",
            "ALTER TABLE d RENAME COLUMN type TO atype;",
        ],
    ),
    (
        "postgresql",
        "ALTER TABLE users ALTER COLUMN name TYPE varchar(200);",
        [
            "CREATE TABLE users (id int, name varchar(100));",
        ],
    ),
    (
        "postgresql",
        "ALTER TABLE users ALTER COLUMN name TYPE text;",
        [
            "CREATE TABLE users (id int, name varchar(100));",
        ],
    ),
    (
        "mysql",
        "ALTER TABLE users MODIFY name varchar(100) NULL;",
        [
            "CREATE TABLE users (id int, name varchar(100) NOT NULL);",
        ],
    ),
    (
        "postgresql",
        "ALTER TYPE mood ADD VALUE 'ok';",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
