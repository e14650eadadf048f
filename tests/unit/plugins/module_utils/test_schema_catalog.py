"""The live catalog of schema-aware migration_check, read from an SQLite file (no server needed)."""

from __future__ import annotations

import sqlite3

from ansible_collections.zerodown.deploy.plugins.module_utils._schema_catalog import read_catalog
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import LIVE


def test_sqlite_tables_columns_unique_indexes_and_bounded_counts(tmp_path):
    path = str(tmp_path / "app.db")
    conn = sqlite3.connect(path)
    for statement in (
        "CREATE TABLE items (id integer PRIMARY KEY, sku text NOT NULL, name text DEFAULT 'x')",
        "CREATE UNIQUE INDEX items_sku ON items (sku)",
        "CREATE UNIQUE INDEX items_pair ON items (sku, name)",
        "CREATE INDEX items_name ON items (name)",
        'CREATE TABLE "Odd ""Name""" (v text)',
    ):
        conn.execute(statement)
    conn.executemany("INSERT INTO items (sku) VALUES (?)", [("a",), ("b",), ("c",)])
    conn.commit()
    conn.close()

    catalog = read_catalog("sqlite:///" + path, "sqlite", count_limit=2)

    assert catalog.authoritative
    assert sorted(catalog.tables) == ["items", 'odd "name"']
    items = catalog.tables["items"]
    assert items.source == LIVE and items.row_count == 2  # bounded by count_limit
    assert catalog.tables['odd "name"'].row_count == 0
    assert sorted(items.columns) == ["id", "name", "sku"]
    assert items.columns["id"].primary_key and not items.columns["sku"].primary_key
    assert items.columns["id"].type == "integer"
    assert items.columns["sku"].not_null and not items.columns["name"].not_null
    assert items.columns["name"].has_default and not items.columns["sku"].has_default
    assert items.columns["sku"].unique and not items.columns["name"].unique
    assert {"items_sku", "items_pair"} <= catalog.unique_indexes and "items_name" not in catalog.unique_indexes
    assert all(catalog.indexes[i] == LIVE for i in catalog.unique_indexes)
    assert all(c.source == LIVE for c in items.columns.values())
