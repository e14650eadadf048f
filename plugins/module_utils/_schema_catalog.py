# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the live catalog for migration_check's schema-aware mode.

Reads, never writes: tables, column types and nullability, unique index names, and a row count bounded by the
small-table threshold (``SELECT count(*) FROM (SELECT 1 FROM t LIMIT n)``), so even a huge table costs one
short index-or-heap scan of at most n rows. Connections come from ``_db`` (one place for DSNs and drivers).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils._db import DatabaseError, connect, parse_dsn
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import LIVE, Catalog, ColumnInfo, TableInfo

_PG_COLUMNS = """
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
  AND n.nspname NOT LIKE 'pg_temp%%'
ORDER BY n.nspname, c.relname, a.attnum
"""
_PG_UNIQUE = """
SELECT i.relname FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
WHERE x.indisunique AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
"""
_MY_COLUMNS = """
SELECT table_schema, table_name, column_name, column_type, is_nullable, column_default, extra
FROM information_schema.columns WHERE table_schema = DATABASE()
ORDER BY table_name, ordinal_position
"""
_MY_UNIQUE = """
SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND non_unique = 0
"""


class CatalogError(Exception):
    """The catalog could not be read (bad DSN, unreachable server, missing driver); never holds a password."""


def read_catalog(
    dsn: str,
    dialect: str,
    password: Optional[str] = None,
    connect_timeout: float = 10,
    count_limit: int = 10000,
) -> Catalog:
    """The schema of the database behind ``dsn`` as an authoritative Catalog."""
    try:
        spec = parse_dsn(dsn, dialect)
        if password:
            spec.password = password
        conn = connect(spec, connect_timeout=connect_timeout, read_only=True, create=False)
    except DatabaseError as exc:
        raise CatalogError(str(exc)) from exc
    secrets = [password] + list(spec.secrets())
    try:
        return _read(conn, spec.dialect, count_limit)
    except DatabaseError as exc:
        raise CatalogError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - driver errors differ per dialect; the message is what matters
        message = str(exc)
        for secret in secrets:
            if secret:
                message = message.replace(secret, "********")
        raise CatalogError("reading the catalog of %s failed: %s" % (spec.describe(), message)) from exc
    finally:
        try:
            conn.close()
        except Exception:  # noqa: BLE001,S110 - closing a read-only session that already failed
            pass


def _rows(conn: Any, sql: str, args: Iterable[Any] = ()) -> List[Tuple]:
    cur = conn.cursor()
    try:
        cur.execute(sql, tuple(args)) if args else cur.execute(sql)
        return list(cur.fetchall())
    finally:
        cur.close()


def _read(conn: Any, dialect: str, count_limit: int) -> Catalog:
    catalog = Catalog(authoritative=True)
    read_tables = {"postgresql": _read_postgresql, "mysql": _read_mysql}.get(dialect, _read_sqlite)
    qualified = read_tables(conn, catalog)
    _mark_live(catalog)
    for name, quoted in qualified.items():
        # bounded count: the exact size of a small table, or "at least count_limit" for a big one
        sql = "SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %d) AS bounded" % (quoted, max(count_limit, 1))  # noqa: S608
        catalog.tables[name].row_count = int(_rows(conn, sql)[0][0])
    return catalog


# Each reader fills the catalog's tables, columns and unique indexes, and returns {table: its quoted name}.


def _read_postgresql(conn: Any, catalog: Catalog) -> Dict[str, str]:
    qualified = {}
    for schema, table, column, type_, not_null, has_default in _rows(conn, _PG_COLUMNS):
        info = _table(catalog, table)
        info.columns[column.lower()] = ColumnInfo(column.lower(), type_, bool(not_null), bool(has_default))
        qualified[table.lower()] = '"%s"."%s"' % (schema.replace('"', '""'), table.replace('"', '""'))
    catalog.unique_indexes = {r[0].lower() for r in _rows(conn, _PG_UNIQUE)}
    return qualified


def _read_mysql(conn: Any, catalog: Catalog) -> Dict[str, str]:
    qualified = {}
    for _schema, table, column, type_, nullable, default, extra in _rows(conn, _MY_COLUMNS):
        info = _table(catalog, table)
        fills = default is not None or "auto_increment" in (extra or "").lower() or "GENERATED" in (extra or "")
        info.columns[column.lower()] = ColumnInfo(column.lower(), _text(type_), nullable == "NO", fills)
        qualified[table.lower()] = "`%s`" % table.replace("`", "``")
    catalog.unique_indexes = {_text(r[0]).lower() for r in _rows(conn, _MY_UNIQUE)}
    return qualified


def _read_sqlite(conn: Any, catalog: Catalog) -> Dict[str, str]:
    qualified = {}
    tables = [
        r[0] for r in _rows(conn, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    ]
    for table in tables:
        quoted = '"%s"' % table.replace('"', '""')
        info = _table(catalog, table)
        for _cid, column, type_, not_null, default, pk in _rows(conn, "PRAGMA table_info(%s)" % quoted):
            info.columns[column.lower()] = ColumnInfo(
                column.lower(), (type_ or "").lower(), bool(not_null), default is not None, False, bool(pk)
            )
        _read_sqlite_unique(conn, catalog, info, quoted)
        qualified[table.lower()] = quoted
    return qualified


def _read_sqlite_unique(conn: Any, catalog: Catalog, info: TableInfo, quoted: str) -> None:
    """The unique indexes of one SQLite table; a column that one of them covers alone is unique."""
    for row in _rows(conn, "PRAGMA index_list(%s)" % quoted):
        name, unique = row[1], row[2]
        if unique:
            catalog.unique_indexes.add(name.lower())
            cols = [r[2] for r in _rows(conn, 'PRAGMA index_info("%s")' % name.replace('"', '""'))]
            if len(cols) == 1 and cols[0] and cols[0].lower() in info.columns:
                info.columns[cols[0].lower()].unique = True


def _mark_live(catalog: Catalog) -> None:
    """Every table, column and index read is a fact of the live database."""
    for info in catalog.tables.values():
        info.source = LIVE
        for column in info.columns.values():
            column.source = LIVE
    for index in catalog.unique_indexes:
        catalog.indexes[index] = LIVE


def _table(catalog: Catalog, name: str) -> TableInfo:
    key = name.lower()
    if key not in catalog.tables:
        catalog.tables[key] = TableInfo(key)
    return catalog.tables[key]


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else str(value)
