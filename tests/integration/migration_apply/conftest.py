"""Real databases for migration tests: a fresh, uniquely named database per test.

PostgreSQL (127.0.0.1:5432, postgres/postgres) and MariaDB (127.0.0.1:3306,
root, no password) must be running; SQLite files live in tmp_path. A missing
server fails the test with a message, it never skips.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import psycopg
import pymysql
import pytest

PG = dict(host="127.0.0.1", port=5432, user="postgres", password="postgres")
MY = dict(host="127.0.0.1", port=3306, user="root", password="")


class Database:
    """One test database: module arguments, and raw connections for assertions."""

    def __init__(self, dialect: str, name: str, path: str = "") -> None:
        self.dialect = dialect
        self.name = name
        self.path = path

    @property
    def args(self) -> dict:
        if self.dialect == "postgresql":
            return {"dsn": "postgresql://postgres@127.0.0.1:5432/%s" % self.name, "password": PG["password"]}
        if self.dialect == "mysql":
            return {"dsn": "mysql+pymysql://root@127.0.0.1:3306/%s" % self.name}
        return {"dsn": "sqlite:///%s" % self.path}

    def connect(self):
        if self.dialect == "postgresql":
            return psycopg.connect(dbname=self.name, autocommit=True, **PG)
        if self.dialect == "mysql":
            return pymysql.connect(database=self.name, autocommit=True, **MY)
        return sqlite3.connect(self.path, isolation_level=None, timeout=10, check_same_thread=False)

    def query(self, sql: str, params: tuple = ()) -> list:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(sql, params)
            rows = list(cur.fetchall()) if cur.description else []
            cur.close()
            return rows
        finally:
            conn.close()

    def tables(self) -> set:
        if self.dialect == "postgresql":
            sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        elif self.dialect == "mysql":
            sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
        return {r[0] for r in self.query(sql)}

    def columns(self, table: str) -> list:
        if self.dialect == "sqlite":
            return [r[1] for r in self.query("PRAGMA table_info(%s)" % table)]
        sql = (
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND table_schema = "  # noqa: S608
            + ("'public'" if self.dialect == "postgresql" else "DATABASE()")
            + " ORDER BY ordinal_position"
        )
        return [r[0] for r in self.query(sql, (table,))]

    def tracking(self, table: str = "zerodown_migrations") -> list:
        if table not in self.tables():
            return []
        q = "`" if self.dialect == "mysql" else '"'
        sql = "SELECT id, checksum, {q}release{q}, duration_ms, applied_by FROM {t} ORDER BY id"  # noqa: S608
        return self.query(sql.format(q=q, t=table))


def _server(dialect: str):
    try:
        if dialect == "postgresql":
            return psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **PG)
        return pymysql.connect(autocommit=True, connect_timeout=5, **MY)
    except Exception as exc:
        pytest.fail(
            "the %s server for integration tests is not reachable (%s): run `make setup` (scripts/ensure-host.sh)"
            % (dialect, exc)
        )


@pytest.fixture
def make_db(tmp_path):
    created = []

    def make(dialect: str) -> Database:
        name = "zd_apply_%s" % uuid.uuid4().hex[:12]
        if dialect == "sqlite":
            db = Database("sqlite", name, str(tmp_path / ("%s.db" % name)))
        else:
            conn = _server(dialect)
            try:
                conn.cursor().execute("CREATE DATABASE %s" % name)
            finally:
                conn.close()
            db = Database(dialect, name)
        created.append(db)
        return db

    yield make
    for db in created:
        if db.dialect == "sqlite":
            continue
        conn = _server(db.dialect)
        try:
            drop = "DROP DATABASE IF EXISTS %s" + (" WITH (FORCE)" if db.dialect == "postgresql" else "")
            conn.cursor().execute(drop % db.name)
        finally:
            conn.close()


@pytest.fixture(params=["postgresql", "mysql", "sqlite"])
def db(request, make_db) -> Database:
    return make_db(request.param)


@pytest.fixture
def migrations(tmp_path):
    """Write migration files: migrations({"0001_a.sql": "...", ...}) -> directory path."""
    directory = tmp_path / "migrations"
    directory.mkdir()

    def write(files: dict) -> str:
        for name, text in files.items():
            (directory / name).write_text(text)
        return str(directory)

    write.dir = Path(directory)
    return write


@pytest.fixture
def apply(module_runner):
    """apply(db, path, check=False, **extra): run migration_apply on ``db`` with release r1."""

    def run(db: Database, path: str, check: bool = False, **extra) -> dict:
        args = dict(db.args, path=path, release="r1")
        args.update(extra)
        return module_runner("migration_apply", {k: v for k, v in args.items() if v is not None}, check=check)

    return run
