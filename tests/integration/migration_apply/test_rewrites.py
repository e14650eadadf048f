"""Safe rewrites on real databases: each case's original migration and its rewrite (the rewritten file in a
transaction, the no-transaction file statement by statement, then the contract file, as migration_apply and
contract.yml run them) are applied to two copies of a table with rows, and the end schemas, read from pg_catalog /
information_schema / sqlite_master and normalised, must be equal, rows kept (cases:
zerodown_testkit/support/rewrite_cases.py; the gate on each rewrite: tests/unit/.../test_sql_rewrite.py)."""

from __future__ import annotations

import re

import pytest
from zerodown_testkit.support.rewrite_cases import CASES

from ansible_collections.zerodown.deploy.plugins.module_utils._sql.lexer import split_statements
from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import analyze_sql


def _run(db, sql: str, transaction: bool) -> None:
    """The file's statements on one connection: in one transaction, or each on its own (autocommit)."""
    conn = db.connect()
    try:
        cur = conn.cursor()
        if transaction and db.dialect != "mysql":  # MySQL commits each DDL statement anyway
            cur.execute("BEGIN")
        for statement in split_statements(sql, db.dialect):
            cur.execute(statement.text)
        if transaction and db.dialect != "mysql":
            cur.execute("COMMIT")
    finally:
        conn.close()


_PG_SCHEMA = {
    "tables": "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public'",
    "columns": "SELECT table_name, column_name, ordinal_position, data_type, is_nullable, column_default "
    "FROM information_schema.columns WHERE table_schema = 'public'",
    "constraints": "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid), convalidated "
    "FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'",
    "invalid indexes": "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid",
}
_MY_SCHEMA = {
    "tables": "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = DATABASE()",
    "columns": "SELECT table_name, column_name, ordinal_position, column_type, is_nullable, column_default "
    "FROM information_schema.columns WHERE table_schema = DATABASE()",
    "constraints": "SELECT table_name, constraint_name, constraint_type FROM information_schema.table_constraints "
    "WHERE table_schema = DATABASE()",
    "indexes": "SELECT table_name, index_name, column_name, seq_in_index, non_unique FROM information_schema.statistics "
    "WHERE table_schema = DATABASE()",
    "views": "SELECT table_name, view_definition FROM information_schema.views WHERE table_schema = DATABASE()",
}


def _schema(db) -> dict:
    """The database's schema as sorted, comparable rows (its name, which differs, taken out)."""
    if db.dialect == "sqlite":
        rows = db.query("SELECT type, name, tbl_name, sql FROM sqlite_master")
        out = {"objects": sorted((t, n, tb, " ".join((sql or "").split())) for t, n, tb, sql in rows)}
        for (table,) in db.query("SELECT name FROM sqlite_master WHERE type = 'table'"):
            out["columns " + table] = db.query("PRAGMA table_info(%s)" % table)
        return out
    queries = _PG_SCHEMA if db.dialect == "postgresql" else _MY_SCHEMA
    strip = re.compile(re.escape(db.name) + r"\.?")
    return {k: sorted(tuple(strip.sub("", str(v)) for v in row) for row in db.query(sql)) for k, sql in queries.items()}


def _rows(db) -> dict:
    return {t: db.query("SELECT COUNT(*) FROM %s" % t)[0][0] for t in sorted(db.tables())}  # noqa: S608


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_rewrite_ends_in_the_schema_the_original_makes(case, make_db):
    original, rewritten = make_db(case.dialect), make_db(case.dialect)
    for db in (original, rewritten):
        _run(db, case.setup, transaction=True)
    _run(original, case.migration, transaction=True)

    report = analyze_sql(case.migration, case.dialect, "0002_change.sql")
    assert report.rewrite and report.rewrite["complete"]
    for saved in report.rewrite["files"]:
        _run(rewritten, saved["sql"], transaction=saved["runs"] != "no_transaction")

    end = _schema(original)
    assert end.get("columns") or end.get("objects"), end  # the schema was read: the comparison is not of empties
    assert _schema(rewritten) == end
    assert _rows(rewritten) == _rows(original)
    if case.id.startswith("pg_add_column_volatile_default"):
        column = "token" if "token" in case.migration else "seen_at"
        assert rewritten.query("SELECT COUNT(*) FROM t WHERE %s IS NULL" % column) == [(0,)]  # noqa: S608
