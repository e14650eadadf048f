"""migration_check's schema-aware mode against real PostgreSQL, MariaDB and SQLite (a unique database per test).

Each case shows a verdict static analysis cannot reach alone, and the opposite verdict the live catalog allows
(or requires); the database must be left exactly as it was (the mode only reads).
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import psycopg  # noqa: E402
import pymysql  # noqa: E402
import pytest

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "password": "postgres"}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root"}


def _server(dialect: str):
    try:
        if dialect == "postgresql":
            return psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **PG)
        return pymysql.connect(autocommit=True, connect_timeout=5, **MY)
    except Exception as exc:
        pytest.fail("the %s test server is not reachable (%s): run `make setup`" % (dialect, exc))


@pytest.fixture
def database(tmp_path):
    """database(dialect, setup_sql) -> (dsn, password, snapshot()): a fresh database with setup_sql applied."""
    made = []

    def make(dialect: str, setup: list):
        name = "zd_check_%s" % uuid.uuid4().hex[:12]
        if dialect == "sqlite":
            path = tmp_path / (name + ".db")
            conn = sqlite3.connect(str(path))
            for stmt in setup:
                conn.execute(stmt)
            conn.commit()
            conn.close()

            def snapshot():
                c = sqlite3.connect(str(path))
                try:
                    return c.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
                finally:
                    c.close()

            return "sqlite:///%s" % path, None, snapshot
        server = _server(dialect)
        server.cursor().execute("CREATE DATABASE %s" % name)
        server.close()
        made.append((dialect, name))
        if dialect == "postgresql":
            conn = psycopg.connect(dbname=name, autocommit=True, **PG)
            dsn = "postgresql://postgres@127.0.0.1:5432/%s" % name
            password = PG["password"]
            query = (
                "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable "
                "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2"
            )
        else:
            conn = pymysql.connect(database=name, autocommit=True, **MY)
            dsn = "mysql://root@127.0.0.1:3306/%s" % name
            password = None
            query = (
                "SELECT table_name, column_name, column_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = DATABASE() ORDER BY 1, 2"
            )
        cur = conn.cursor()
        for stmt in setup:
            cur.execute(stmt)
        conn.close()

        def snapshot():
            c = (
                psycopg.connect(dbname=name, autocommit=True, **PG)
                if dialect == "postgresql"
                else pymysql.connect(database=name, autocommit=True, **MY)
            )
            try:
                k = c.cursor()
                k.execute(query)
                return list(k.fetchall())
            finally:
                c.close()

        return dsn, password, snapshot

    yield make
    for dialect, name in made:
        server = _server(dialect)
        try:
            drop = "DROP DATABASE IF EXISTS %s" + (" WITH (FORCE)" if dialect == "postgresql" else "")
            server.cursor().execute(drop % name)
        finally:
            server.close()


def _check(module_runner, dialect, sql_file: Path, dsn=None, password=None, check=False, **extra):
    args = {"path": str(sql_file), "dialect": dialect, "fail_on_incompatible": False}
    if dsn:
        args["schema_dsn"] = dsn
    if password:
        args["schema_password"] = password
    args.update(extra)
    result = module_runner("migration_check", args, check=check)
    assert not result["failed"], result.get("msg")
    return result


def _rules(result) -> list:
    return sorted({f["rule"] for f in result["findings"] if f["severity"] == "error" and not f["waived"]})


def test_postgresql_prior_type_and_small_table(database, module_runner, tmp_path):
    dsn, password, snapshot = database(
        "postgresql",
        [
            "CREATE TABLE users (id bigint PRIMARY KEY, name varchar(50), code varchar(80))",
            "INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 50) g",
            "CREATE TABLE events (id bigint PRIMARY KEY, kind text)",
            "INSERT INTO events SELECT g, 'k' FROM generate_series(1, 300) g",
        ],
    )
    sql = tmp_path / "005_widen.sql"
    sql.write_text(
        "ALTER TABLE users ALTER COLUMN name TYPE varchar(100);\n"
        "ALTER TABLE users ALTER COLUMN code TYPE varchar(40);\n"
        "CREATE INDEX users_name ON users (name);\n"
        "CREATE INDEX events_kind ON events (kind);\n"
        "ALTER TABLE not_yet_created DROP COLUMN x;\n"
    )
    before = snapshot()
    static = _check(module_runner, "postgresql", sql)
    assert [(f["line"], f["rule"]) for f in static["findings"]] == [
        (1, "alter_type"),
        (2, "alter_type"),
        (3, "create_index_blocking"),
        (4, "create_index_blocking"),
        (5, "drop_column"),
    ]
    assert static["schema_aware"] is False
    for check in (True, False, False):
        aware = _check(module_runner, "postgresql", sql, dsn, password, check=check, small_table_rows=100)
        assert aware["schema_aware"] is True and aware["changed"] is False
        # widening 50 -> 100 is safe, narrowing 80 -> 40 is not; 50 rows is small, 300 is not;
        # a table the database does not have is created by a pending migration
        assert [(f["line"], f["rule"]) for f in aware["findings"]] == [(2, "alter_type"), (4, "create_index_blocking")]
    assert snapshot() == before
    assert "(was character varying(80), per the live schema (schema_dsn))" in aware["findings"][0]["message"]


def test_the_live_schema_wins_over_the_history(database, module_runner, tmp_path):
    """The history says name is varchar(400) (the database was changed by hand since); the live schema says 50."""
    dsn, password, snapshot = database("postgresql", ["CREATE TABLE users (id bigint PRIMARY KEY, name varchar(50))"])
    d = tmp_path / "migrations"
    d.mkdir()
    (d / "0001_users.sql").write_text("CREATE TABLE users (id bigint PRIMARY KEY, name varchar(400));\n")
    (d / "0002_name_check.sql").write_text(
        "ALTER TABLE users ADD CONSTRAINT users_name_nn CHECK (name IS NOT NULL) NOT VALID;\n"
        "COMMIT;\nALTER TABLE users VALIDATE CONSTRAINT users_name_nn;\n"
    )
    (d / "0003_widen.sql").write_text(
        "ALTER TABLE users ALTER COLUMN name TYPE varchar(100);\nALTER TABLE users ALTER COLUMN name SET NOT NULL;\n"
    )
    args = {"path": str(d), "dialect": "postgresql", "fail_on_incompatible": False, "pending": ["0003_widen.sql"]}
    before = snapshot()
    from_history = module_runner("migration_check", args, check=True)
    assert [Path(p).name for p in from_history["history"]] == ["0001_users.sql", "0002_name_check.sql"]
    # per the history 400 -> 100 narrows; the validated CHECK makes SET NOT NULL safe
    assert [(f["line"], f["rule"]) for f in from_history["findings"]] == [(1, "alter_type")]
    assert "per the migration history (0001_users.sql)" in from_history["findings"][0]["message"]
    aware = module_runner("migration_check", dict(args, schema_dsn=dsn, schema_password=password), check=True)
    # per the live schema 50 -> 100 widens; the CHECK only the history knows still counts
    assert aware["schema_aware"] is True and aware["compatible"] is True, aware["findings"]
    assert aware["findings"] == []
    assert snapshot() == before


def test_mariadb_length_prefix_boundary(database, module_runner, tmp_path):
    dsn, _password, snapshot = database(
        "mysql",
        ["CREATE TABLE users (id BIGINT PRIMARY KEY, nick VARCHAR(20) CHARACTER SET utf8mb4, bio VARCHAR(50))"],
    )
    sql = tmp_path / "006.sql"
    sql.write_text("ALTER TABLE users MODIFY nick VARCHAR(60);\nALTER TABLE users MODIFY bio VARCHAR(100);\n")
    before = snapshot()
    assert _rules(_check(module_runner, "mysql", sql)) == ["alter_type"]
    for check in (True, False):
        aware = _check(module_runner, "mysql", sql, dsn, check=check)
        # 20 -> 60 characters stays within 255 bytes (in place); 50 -> 100 crosses it (table copy)
        assert [(f["line"], f["rule"]) for f in aware["findings"]] == [(2, "table_rewrite")]
    assert snapshot() == before


def test_sqlite_rebuild_against_the_live_definition(database, module_runner, tmp_path):
    dsn, _password, snapshot = database(
        "sqlite",
        ["CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, bio TEXT)"],
    )
    sql = tmp_path / "007_rebuild.sql"
    sql.write_text(
        "PRAGMA foreign_keys=off;\nBEGIN;\n"
        "CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n"
        "INSERT INTO users_new (id, email) SELECT id, email FROM users;\n"
        "DROP TABLE users;\nALTER TABLE users_new RENAME TO users;\nCOMMIT;\n"
    )
    before = snapshot()
    static = _check(module_runner, "sqlite", sql)
    assert static["compatible"] is False  # fails closed: the old definition is unknown without the live schema
    assert [(f["rule"], f["severity"]) for f in static["findings"]] == [("undetermined", "error")]
    aware = _check(module_runner, "sqlite", sql, dsn, check=True)
    assert aware["compatible"] is False
    assert [(f["line"], f["rule"]) for f in aware["findings"]] == [(6, "drop_column")]
    assert "bio" in aware["findings"][0]["message"]
    assert snapshot() == before


def test_bad_schema_dsn_names_the_problem_without_the_password(module_runner, tmp_path):
    sql = tmp_path / "001.sql"
    sql.write_text("SELECT 1;\n")
    result = module_runner(
        "migration_check",
        {
            "path": str(sql),
            "dialect": "postgresql",
            "schema_dsn": "postgresql://postgres@127.0.0.1:1/nodb",
            "schema_password": "s3cr3t-pw",
            "schema_connect_timeout": 2,
        },
    )
    assert result["failed"] and result["msg"].startswith("schema_dsn: ")
    assert "s3cr3t-pw" not in str(result)
    result = module_runner(
        "migration_check", {"path": str(sql), "dialect": "postgresql", "schema_dsn": "mysql://root@127.0.0.1/x"}
    )
    assert result["failed"] and "dialect" in result["msg"]
