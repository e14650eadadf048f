"""Rule ``drop_column``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/drop_column.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "drop_column"

UNSAFE = [
    (
        "postgresql",
        "ALTER TABLE users DROP COLUMN email;",
    ),
    (
        "mysql",
        "ALTER TABLE users DROP COLUMN email;",
    ),
    (
        "sqlite",
        "CREATE TABLE t_new (id INTEGER PRIMARY KEY);\nINSERT INTO t_new (id) SELECT id FROM t;\nDROP TABLE t;\nALTER TABLE t_new RENAME TO t;",
        [
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);",
        ],
    ),
]

SAFE = [
    (
        "postgresql",
        "ALTER TABLE users ADD COLUMN nick text;\nALTER TABLE users DROP COLUMN nick;",
    ),
    (
        "mysql",
        "CREATE TABLE t (a int, b int);\nALTER TABLE t DROP COLUMN b;",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
