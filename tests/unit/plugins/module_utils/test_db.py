from __future__ import annotations

import sqlite3

import pytest
from zerodown_testkit.support.fake_clock import FakeClock

from ansible_collections.zerodown.deploy.plugins.module_utils import _db
from ansible_collections.zerodown.deploy.plugins.module_utils._db import (
    MASK,
    ConnectionSpec,
    DatabaseError,
    LockTimeout,
    acquire_runner_lock,
    begin_exclusive,
    build_spec,
    connect,
    parse_dsn,
    redact,
    runner_lock_key,
    runner_lock_name,
)


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://app:s3cr%40t@db1.example.com:6543/shop?sslmode=require",
        "postgres://app:s3cr%40t@db1.example.com:6543/shop?sslmode=require",
        "postgresql+psycopg://app:s3cr%40t@db1.example.com:6543/shop?sslmode=require",
        "host=db1.example.com port=6543 user=app password='s3cr@t' dbname=shop sslmode=require",
    ],
)
def test_postgresql_dsn_forms_agree(dsn):
    spec = parse_dsn(dsn, "postgresql" if "=" in dsn.split("://")[0] else None)
    assert spec == ConnectionSpec(
        "postgresql", "db1.example.com", 6543, "app", "s3cr@t", "shop", None, {"sslmode": "require"}
    )


@pytest.mark.parametrize("scheme", ["mysql", "mysql+pymysql", "mariadb", "mariadb+pymysql"])
def test_mysql_urls(scheme):
    spec = parse_dsn("%s://root@127.0.0.1/shop?charset=utf8mb4" % scheme)
    assert (spec.dialect, spec.host, spec.port, spec.user, spec.password, spec.database) == (
        "mysql",
        "127.0.0.1",
        None,
        "root",
        None,
        "shop",
    )
    assert spec.options == {"charset": "utf8mb4"}


def test_ipv6_host_and_empty_password():
    spec = parse_dsn("postgresql://app:@[::1]:5433/db")
    assert (spec.host, spec.port, spec.password) == ("::1", 5433, "")
    assert spec.describe() == "postgresql://app@[::1]:5433/db"


@pytest.mark.parametrize(
    "dsn,path",
    [
        ("sqlite:///var/lib/app.db", "/var/lib/app.db"),
        ("sqlite:////var/lib/app.db", "/var/lib/app.db"),
        ("sqlite:///tmp/a%20b.db", "/tmp/a b.db"),
    ],
)
def test_sqlite_urls_are_absolute(dsn, path):
    spec = parse_dsn(dsn)
    assert (spec.dialect, spec.path) == ("sqlite", path)


def test_sqlite_plain_path_needs_dialect_and_absolute_path(tmp_path):
    with pytest.raises(DatabaseError, match="set dialect"):
        parse_dsn(str(tmp_path / "a.db"))
    assert build_spec("sqlite", dsn=str(tmp_path / "a.db")).path == str(tmp_path / "a.db")
    with pytest.raises(DatabaseError, match="relative"):
        build_spec("sqlite", dsn="app.db")


def test_separate_fields_win_over_dsn():
    spec = build_spec(
        "postgresql", dsn="postgresql://app:old@db1/shop", host="db2", port=7000, password="new", database="shop2"
    )
    assert (spec.host, spec.port, spec.user, spec.password, spec.database) == ("db2", 7000, "app", "new", "shop2")
    spec = build_spec("mysql", host="h", user="u", database="d")
    assert (spec.dialect, spec.host, spec.port) == ("mysql", "h", None)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"dialect": "postgresql", "dsn": "mysql://u@h/d"}, "mysql URL but dialect is postgresql"),
        ({"dialect": "oracle"}, "unknown database dialect 'oracle'"),
        ({"dialect": None, "dsn": "oracle://u@h/d"}, "scheme 'oracle' is not supported"),
        ({"dialect": "postgresql", "dsn": "postgresql://u:pw@h:99999/d"}, "h:99999/d has an invalid port: use"),
        ({"dialect": "postgresql", "host": "h"}, "no database name"),
        ({"dialect": "postgresql", "dsn": "just words"}, "neither a URL"),
        ({"dialect": None}, "set dialect"),
    ],
)
def test_bad_input_names_the_fix(kwargs, match):
    with pytest.raises(DatabaseError, match=match):
        build_spec(**kwargs)


def test_errors_never_contain_the_password():
    with pytest.raises(DatabaseError) as info:
        parse_dsn("postgresql://app:hunter2@h:99999/d")
    assert "hunter2" not in str(info.value)
    assert MASK in str(info.value)
    with pytest.raises(DatabaseError) as info:
        parse_dsn("host=h password='hunter 2' junk", "postgresql")
    assert "hunter" not in str(info.value)


def test_redact_masks_urls_keywords_and_given_secrets():
    text = "failed for postgresql://app:p%40ss@h/db and password=abc def, also p@ss and dsn mysql://r:x@h/d"
    out = redact(text, ["p@ss"])
    assert "p%40ss" not in out and "p@ss" not in out and "abc" not in out and ":x@" not in out
    assert "postgresql://app:%s@h/db" % MASK in out
    assert "password=%s def" % MASK in out
    assert redact("nothing secret here", [None, ""]) == "nothing secret here"


def test_describe_has_no_password():
    spec = parse_dsn("postgresql://app:topsecret@db1:5432/shop")
    assert "topsecret" not in spec.describe() and "topsecret" not in repr(spec) and "topsecret" not in str(spec)
    assert spec.describe() == "postgresql://app@db1:5432/shop"


def test_lock_names_fit_mysql_and_keys_are_stable():
    assert len(runner_lock_name("x" * 200)) <= 64
    assert runner_lock_name("schema_migrations") == "zerodown:schema_migrations"
    key = runner_lock_key("schema_migrations")
    assert key == runner_lock_key("schema_migrations") and -(2**63) <= key < 2**63
    assert key != runner_lock_key("other")


class _FakeCursor:
    def __init__(self, results):
        self.results = results
        self.executed = []

    def execute(self, sql, args=None):
        self.executed.append((sql, args))

    def fetchone(self):
        return (self.results.pop(0),)

    def close(self):
        pass


class _FakeConn:
    def __init__(self, results):
        self.cur = _FakeCursor(results)

    def cursor(self):
        return self.cur


def test_runner_lock_polls_until_free_and_times_out_with_a_clear_message():
    conn = _FakeConn([False, False, True])
    clock = FakeClock()
    acquire_runner_lock(conn, "postgresql", "t", timeout=5, clock=clock)
    assert conn.cur.executed[0][0] == "SELECT pg_try_advisory_lock(%s)"
    assert len(clock.sleeps) == 2

    conn = _FakeConn([0] * 1000)
    with pytest.raises(LockTimeout, match="another migration runner holds the lock zerodown:t.*within 1"):
        acquire_runner_lock(conn, "mysql", "t", timeout=1, clock=FakeClock())
    assert conn.cur.executed[0] == ("SELECT GET_LOCK(%s, 0)", ("zerodown:t",))


def test_sqlite_exclusive_waits_for_other_writer_then_times_out(tmp_path):
    path = str(tmp_path / "a.db")
    spec = build_spec("sqlite", dsn=path)
    first = connect(spec)
    second = connect(spec)
    begin_exclusive(first, timeout=1)
    with pytest.raises(LockTimeout, match="locked by another connection"):
        begin_exclusive(second, timeout=0.3)
    first.execute("COMMIT")
    begin_exclusive(second, timeout=1)
    second.execute("COMMIT")
    assert second.execute("PRAGMA busy_timeout").fetchone()[0] == 10000


def test_sqlite_connect_read_only_and_missing_files(tmp_path):
    with pytest.raises(DatabaseError, match="directory .*nope does not exist"):
        connect(build_spec("sqlite", dsn=str(tmp_path / "nope" / "a.db")))
    with pytest.raises(DatabaseError, match="does not exist: fix the path"):
        connect(build_spec("sqlite", dsn=str(tmp_path / "a.db")), read_only=True)
    rw = connect(build_spec("sqlite", dsn=str(tmp_path / "a.db")))
    rw.execute("CREATE TABLE t (x int)")
    ro = connect(build_spec("sqlite", dsn=str(tmp_path / "a.db")), read_only=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        ro.execute("INSERT INTO t VALUES (1)")
    (tmp_path / "junk.db").write_bytes(b"this is not a database file at all" * 10)
    with pytest.raises(DatabaseError, match="cannot open SQLite database"):
        connect(build_spec("sqlite", dsn=str(tmp_path / "junk.db")))


def test_missing_driver_is_reported(monkeypatch):
    monkeypatch.setattr(_db, "HAS_PSYCOPG", False)
    monkeypatch.setattr(_db, "PSYCOPG_IMPORT_ERROR", "No module named 'psycopg'")
    with pytest.raises(DatabaseError, match=r"psycopg \(psycopg 3\) is needed.*No module named"):
        connect(build_spec("postgresql", host="h", database="d"))


def test_mysql_unknown_dsn_option_is_named():
    with pytest.raises(DatabaseError, match="DSN option 'sslmode' is not supported for MySQL"):
        connect(parse_dsn("mysql://root@127.0.0.1/d?sslmode=require"))


def test_connect_error_explanations_name_the_fix():
    spec = parse_dsn("postgresql://app:pw@db9:5432/shop")
    msg = _db._explain_connect_error(spec, 'FATAL:  password authentication failed for user "app"')
    assert "check user and password" in msg
    msg = _db._explain_connect_error(spec, "connection refused")
    assert "cannot reach db9:5432" in msg
    msg = _db._explain_connect_error(spec, 'database "shop" does not exist')
    assert "database 'shop' does not exist" in msg


REACH = (
    "check host and port, and that the database server is running and reachable from the host that runs the migration"
)
NO_ANSWER = (
    "no answer from db9:5432 in time: check host and port, firewalls, and that the database is reachable from the host "
    "that runs the migration"
)


@pytest.mark.parametrize(
    "message, fix",
    [
        ("(1045) Access denied for user", "check user and password (zerodown_db_password / the dsn) for %(where)s"),
        (
            "(1049) Unknown database 'shop'",
            "database 'shop' does not exist on the server: fix database (or the dsn) or create it",
        ),
        ('role "app" does not exist', "user 'app' does not exist on the server: fix user (or the dsn)"),
        (
            "no pg_hba.conf entry for host",
            "the server's pg_hba.conf does not allow this client: allow it or connect from an allowed host",
        ),
        ("timeout expired", NO_ANSWER),
        ("connection timed out", NO_ANSWER),
        ("could not translate host name", "cannot reach db9:5432: " + REACH),
        ("Can't connect to MySQL server (2003)", "cannot reach db9:5432: " + REACH),
        ("Name or service not known", "cannot reach db9:5432: " + REACH),
        ("No route to host", "cannot reach db9:5432: " + REACH),
        ("network unreachable", "cannot reach db9:5432: " + REACH),
        ("database is locked", "check the connection settings for %(where)s (server db9:5432)"),
        ("something else entirely ", "check the connection settings for %(where)s (server db9:5432)"),
    ],
)
def test_each_usual_cause_of_a_failed_connection_has_its_fix(message, fix):
    spec = parse_dsn("postgresql://app:pw@db9:5432/shop")
    where = "postgresql://app@db9:5432/shop"
    expected = "cannot connect to %s: %s (%s)" % (where, fix % {"where": where}, message.strip())
    assert _db._explain_connect_error(spec, message) == expected


@pytest.mark.parametrize(
    "dsn, expected",
    [
        ("host=db port=5433 user=app password='p w\\'x' dbname=shop", ("db", 5433, "app", "p w'x", "shop", {})),
        ("host=db password=a\\ b", ("db", None, None, "a b", None, {})),
        ("  host = db   user=u  ", ("db", None, "u", None, None, {})),
        (
            "hostaddr=10.0.0.1 database=d sslmode=require PORT=1",
            ("10.0.0.1", 1, None, None, "d", {"sslmode": "require"}),
        ),
        ("", (None, None, None, None, None, {})),
    ],
)
def test_keyword_dsn_pairs_quotes_and_escapes(dsn, expected):
    spec = _db._parse_keyword_dsn("postgresql", dsn)
    assert (spec.host, spec.port, spec.user, spec.password, spec.database, spec.options) == expected


@pytest.mark.parametrize(
    "dsn, message",
    [
        (
            "host=db junk",
            "DSN host=db junk has a word without '=': write key=value pairs, a value with spaces in single quotes",
        ),
        (
            "host=db 1x=2",
            "DSN host=db 1x=2 has a word without '=' or a key that is not a name: write key=value pairs, a value "
            "with spaces in single quotes",
        ),
        ("host=db password='open", "DSN host=db password=******** has an unterminated quoted value: close the quote"),
    ],
)
def test_keyword_dsn_refusals_show_no_password(dsn, message):
    with pytest.raises(DatabaseError) as exc:
        _db._parse_keyword_dsn("postgresql", dsn)
    assert str(exc.value) == message
