"""Migrations with a known safe form, for the rewrite tests: each a table with rows (``setup``, already run) and one
unsafe migration (``migration``) whose every blocking finding has a rewrite.

tests/unit/plugins/module_utils/test_sql_rewrite.py runs the gate on every generated rewrite;
tests/integration/migration_apply/test_rewrites.py applies the original and the rewrite to real databases and
compares the end schemas.
"""

from __future__ import annotations

from typing import List, NamedTuple


class Case(NamedTuple):
    id: str
    dialect: str
    rules: tuple  # the rules the migration breaks, each of which must come with its rewrite
    setup: str
    migration: str
    # the rules it breaks too when judged alone, where the setup's objects are unknown and the worst case holds
    alone: tuple = ()


PG_SETUP = (
    "CREATE TABLE p (id int PRIMARY KEY);\nINSERT INTO p (id) VALUES (1), (2);\n"
    "CREATE TABLE t (id int PRIMARY KEY, a int, p_id int, note text, CONSTRAINT t_note_key UNIQUE (note));\n"
    "INSERT INTO t (id, a, p_id, note) VALUES (1, 10, 1, 'x'), (2, 20, 2, NULL), (3, 30, NULL, 'z');\n"
    "CREATE INDEX t_p_id_idx ON t (p_id);\nCREATE VIEW t_notes AS SELECT id, note FROM t;\n"
)
MY_SETUP = (
    "CREATE TABLE p (id int PRIMARY KEY);\nINSERT INTO p (id) VALUES (1), (2);\n"
    "CREATE TABLE t (id int PRIMARY KEY, a int, p_id int, note varchar(40), UNIQUE KEY t_note_key (note));\n"
    "INSERT INTO t (id, a, p_id, note) VALUES (1, 10, 1, 'x'), (2, 20, 2, NULL), (3, 30, NULL, 'z');\n"
    "CREATE VIEW t_notes AS SELECT id, note FROM t;\n"
)
LITE_SETUP = (
    "CREATE TABLE p (id integer PRIMARY KEY);\nINSERT INTO p (id) VALUES (1), (2);\n"
    "CREATE TABLE t (id integer PRIMARY KEY, a integer, p_id integer, note text);\n"
    "INSERT INTO t (id, a, p_id, note) VALUES (1, 10, 1, 'x'), (2, 20, 2, NULL), (3, 30, NULL, 'z');\n"
    "CREATE VIEW t_notes AS SELECT id, note FROM t;\n"
)

CASES: List[Case] = [
    # PostgreSQL
    Case("pg_create_index", "postgresql", ("create_index_blocking",), PG_SETUP, "CREATE INDEX t_a_idx ON t (a);\n"),
    Case("pg_reindex", "postgresql", ("create_index_blocking",), PG_SETUP, "REINDEX INDEX t_p_id_idx;\n"),
    Case(
        "pg_drop_index",
        "postgresql",
        ("drop_index_blocking",),
        PG_SETUP,
        "DROP INDEX t_p_id_idx;\n",
        alone=("drop_unique_constraint",),
    ),
    Case(
        "pg_add_foreign_key_unnamed",
        "postgresql",
        ("add_constraint_validating", "add_foreign_key_blocking"),
        PG_SETUP,
        "ALTER TABLE t ADD FOREIGN KEY (p_id) REFERENCES p (id);\n",
    ),
    Case(
        "pg_add_check",
        "postgresql",
        ("add_constraint_validating",),
        PG_SETUP,
        "ALTER TABLE t ADD CONSTRAINT t_a_positive CHECK (a > 0);\n",
    ),
    Case(
        "pg_add_check_unnamed",
        "postgresql",
        ("add_constraint_validating",),
        PG_SETUP,
        "ALTER TABLE t ADD CHECK (a > 0);\n",
    ),
    Case(
        "pg_validate_same_transaction",
        "postgresql",
        ("add_constraint_validating",),
        PG_SETUP,
        "ALTER TABLE t ADD CONSTRAINT t_a_positive CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT t_a_positive;\n",
    ),
    Case(
        "pg_add_column_references",
        "postgresql",
        ("add_foreign_key_blocking",),
        PG_SETUP,
        "ALTER TABLE t ADD COLUMN parent_id int REFERENCES p (id) ON DELETE SET NULL;\n",
    ),
    Case(
        "pg_add_column_check",
        "postgresql",
        ("add_constraint_validating",),
        PG_SETUP,
        "ALTER TABLE t ADD COLUMN qty int NOT NULL DEFAULT 1 CONSTRAINT t_qty_positive CHECK (qty > 0);\n",
    ),
    Case("pg_set_not_null", "postgresql", ("set_not_null",), PG_SETUP, "ALTER TABLE t ALTER COLUMN a SET NOT NULL;\n"),
    Case(
        "pg_add_column_volatile_default",
        "postgresql",
        ("add_column_volatile_default",),
        PG_SETUP,
        "ALTER TABLE t ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();\n",
    ),
    Case(
        "pg_add_column_volatile_default_nullable",
        "postgresql",
        ("add_column_volatile_default",),
        PG_SETUP,
        "ALTER TABLE t ADD COLUMN seen_at timestamptz DEFAULT clock_timestamp();\n",
    ),
    Case("pg_rename_table", "postgresql", ("rename_table",), PG_SETUP, "ALTER TABLE p RENAME TO parents;\n"),
    Case(
        "pg_rename_column", "postgresql", ("rename_column",), PG_SETUP, "ALTER TABLE t RENAME COLUMN note TO remark;\n"
    ),
    Case("pg_drop_column", "postgresql", ("drop_column",), PG_SETUP, "ALTER TABLE t DROP COLUMN a;\n"),
    Case("pg_drop_table", "postgresql", ("drop_table", "drop_view"), PG_SETUP, "DROP VIEW t_notes;\nDROP TABLE t;\n"),
    Case("pg_drop_view", "postgresql", ("drop_view",), PG_SETUP, "DROP VIEW t_notes;\n"),
    Case(
        "pg_drop_unique_constraint",
        "postgresql",
        ("drop_unique_constraint",),
        PG_SETUP,
        "ALTER TABLE t DROP CONSTRAINT t_note_key;\n",
    ),
    # MySQL / MariaDB
    Case(
        "my_create_index_copy",
        "mysql",
        ("table_rewrite",),
        MY_SETUP,
        "CREATE INDEX t_a_idx ON t (a) ALGORITHM=COPY;\n",
    ),
    Case(
        "my_add_index_locked",
        "mysql",
        ("table_rewrite", "lock_table"),
        MY_SETUP,
        "ALTER TABLE t ADD INDEX t_a_idx (a), ALGORITHM=COPY, LOCK=SHARED;\n",
    ),
    Case("my_set_not_null", "mysql", ("set_not_null",), MY_SETUP, "ALTER TABLE t MODIFY a int NOT NULL;\n"),
    Case("my_rename_table", "mysql", ("rename_table",), MY_SETUP, "RENAME TABLE p TO parents;\n"),
    Case("my_rename_table_alter", "mysql", ("rename_table",), MY_SETUP, "ALTER TABLE p RENAME TO parents;\n"),
    Case("my_rename_column", "mysql", ("rename_column",), MY_SETUP, "ALTER TABLE t RENAME COLUMN a TO amount;\n"),
    Case("my_drop_column", "mysql", ("drop_column",), MY_SETUP, "ALTER TABLE t DROP COLUMN a;\n"),
    Case("my_drop_table", "mysql", ("drop_table", "drop_view"), MY_SETUP, "DROP VIEW t_notes;\nDROP TABLE t;\n"),
    Case("my_drop_view", "mysql", ("drop_view",), MY_SETUP, "DROP VIEW t_notes;\n"),
    Case("my_drop_unique_index", "mysql", ("drop_unique_constraint",), MY_SETUP, "DROP INDEX t_note_key ON t;\n"),
    # SQLite
    Case("lite_rename_table", "sqlite", ("rename_table",), LITE_SETUP, "ALTER TABLE p RENAME TO parents;\n"),
    Case("lite_rename_column", "sqlite", ("rename_column",), LITE_SETUP, "ALTER TABLE t RENAME COLUMN a TO amount;\n"),
    Case("lite_drop_column", "sqlite", ("drop_column",), LITE_SETUP, "ALTER TABLE t DROP COLUMN a;\n"),
    Case("lite_drop_table", "sqlite", ("drop_table", "drop_view"), LITE_SETUP, "DROP VIEW t_notes;\nDROP TABLE t;\n"),
    Case("lite_drop_view", "sqlite", ("drop_view",), LITE_SETUP, "DROP VIEW t_notes;\n"),
]
