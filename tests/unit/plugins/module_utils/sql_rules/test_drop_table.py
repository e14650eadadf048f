"""Rule ``drop_table``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/drop_table.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "drop_table"

UNSAFE = [
    # without a history nothing says archives is new; with one that made it, its rows go
    ("sqlite", "DROP TABLE IF EXISTS archives;\nCREATE TABLE archives (user_uuid TEXT NOT NULL);"),
    (
        "sqlite",
        "DROP TABLE IF EXISTS archives;\nCREATE TABLE archives (user_uuid TEXT NOT NULL);",
        ["CREATE TABLE archives (user_uuid TEXT NOT NULL, note TEXT);"],
    ),
    # issue 26: with no history, or one that does not start from an empty schema (its first file alters a table
    # it did not create), nothing says the table is new; IF EXISTS says its author expects it may exist
    ("mysql", "DROP TABLE IF EXISTS archives;\nCREATE TABLE archives (id int, user_uuid varchar(40) NOT NULL);"),
    ("postgresql", "DROP TABLE IF EXISTS archives;\nCREATE TABLE archives (id int, user_uuid text NOT NULL);"),
    (
        "mysql",
        "DROP TABLE IF EXISTS archives;\nCREATE TABLE archives (id int, user_uuid varchar(40) NOT NULL);",
        ["ALTER TABLE users ADD COLUMN note varchar(40);", "CREATE TABLE devices (id int);"],
    ),
    (
        "sqlite",
        "DROP TABLE IF EXISTS archives;\nCREATE TABLE archives (user_uuid TEXT NOT NULL);",
        ["ALTER TABLE users ADD COLUMN note TEXT;", "CREATE TABLE devices (id INTEGER);"],
    ),
    (
        "postgresql",
        "DROP TABLE IF EXISTS archives;\nCREATE TABLE archives (id int, user_uuid text NOT NULL);",
        ["CREATE INDEX users_note ON users (note);"],
    ),
    (
        "postgresql",
        "DROP TABLE users;",
    ),
    (
        "mysql",
        "DROP TABLE IF EXISTS sessions;",
    ),
    (
        "sqlite",
        "DROP TABLE audit;",
    ),
    (
        "postgresql",
        "ALTER TABLE events DETACH PARTITION events_2020;",
    ),
]

SAFE = [
    # a history that starts from an empty schema and never made archives: it is known absent, the drop is a no-op
    (
        "mysql",
        "DROP TABLE IF EXISTS archives;\nCREATE TABLE archives (id int, user_uuid varchar(40) NOT NULL);",
        ["CREATE TABLE users (uuid varchar(40) NOT NULL PRIMARY KEY);"],
    ),
    (
        "postgresql",
        "DROP TABLE IF EXISTS archives;\nCREATE TABLE archives (id int, user_uuid text NOT NULL);",
        ["CREATE TABLE users (uuid text PRIMARY KEY);", "ALTER TABLE users ADD COLUMN note text;"],
    ),
    (
        "sqlite",
        "DROP TABLE IF EXISTS archives;\nCREATE TABLE archives (user_uuid TEXT NOT NULL, PRIMARY KEY (user_uuid));",
        ["CREATE TABLE users (uuid TEXT NOT NULL PRIMARY KEY);"],
    ),
    (
        "postgresql",
        "CREATE TABLE tmp (id int);\nDROP TABLE tmp;",
    ),
    (
        "sqlite",
        "CREATE TABLE t_new (id INTEGER PRIMARY KEY, name TEXT);\n"
        "INSERT INTO t_new (id, name) SELECT id, name FROM t;\n"
        "DROP TABLE t;\nALTER TABLE t_new RENAME TO t;",
        [
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);",
        ],
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
