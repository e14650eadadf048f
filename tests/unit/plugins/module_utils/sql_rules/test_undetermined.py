"""Rule ``undetermined``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/undetermined.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "undetermined"

UNSAFE = [
    (
        "postgresql",
        # beside SQL: a file where nothing reads as SQL is "unparsed" only, and none of it is quoted
        "CREATE TABLE notes (id integer);\nFROBNICATE users;",
    ),
    (
        "sqlite",
        "CREATE TABLE t_new (id INTEGER PRIMARY KEY);\nINSERT INTO t_new SELECT * FROM t;\nDROP TABLE t;\nALTER TABLE t_new RENAME TO t;",
    ),
    (
        "mysql",
        "PREPARE s FROM @sql;\nEXECUTE s;",
    ),
]

SAFE = [
    (
        "sqlite",
        "CREATE TABLE t_new (id INTEGER PRIMARY KEY);\nINSERT INTO t_new SELECT * FROM t;\nDROP TABLE t;\nALTER TABLE t_new RENAME TO t;",
        [
            "CREATE TABLE t (id INTEGER PRIMARY KEY);",
        ],
    ),
    (
        "postgresql",
        "DO $$ BEGIN UPDATE users SET a = 1 WHERE id = 2; END $$;",
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
