"""migration_apply against real PostgreSQL, MariaDB and SQLite, through real Ansible."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._db import runner_lock_key, runner_lock_name

USERS = "CREATE TABLE users (id integer primary key, name varchar(100) not null);\nINSERT INTO users (id, name) VALUES (1, 'ann;1');\n"
EMAIL = "-- expand: a nullable column the old version ignores\nALTER TABLE users ADD COLUMN email varchar(200);\n"
DROP_NAME = "-- zerodown:contract\nALTER TABLE users DROP COLUMN name;\n"
BASE = {"0001_users.sql": USERS, "0002_email.sql": EMAIL, "0003_drop_name.sql": DROP_NAME}


def test_check_then_apply_then_idempotent(apply, db, migrations):
    path = migrations(BASE)

    plan = apply(db, path, check=True)
    assert not plan["failed"], plan["msg"]
    assert plan["changed"] is True
    assert plan["pending"] == ["0001_users.sql", "0002_email.sql"]
    assert plan["skipped_contract"] == ["0003_drop_name.sql"]
    assert plan["applied"] == []
    assert db.tables() == set(), "check mode must not create anything, not even the tracking table"

    run = apply(db, path)
    assert not run["failed"], run["msg"]
    assert run["changed"] is True
    assert run["applied"] == ["0001_users.sql", "0002_email.sql"]
    assert run["skipped_contract"] == ["0003_drop_name.sql"]
    assert db.columns("users") == ["id", "name", "email"]
    assert db.query("SELECT name FROM users") == [("ann;1",)]
    rows = db.tracking()
    assert [r[0] for r in rows] == ["0001_users.sql", "0002_email.sql"]
    assert all(len(r[1]) == 64 and r[2] == "r1" and r[3] >= 0 and "@" in r[4] for r in rows)
    if db.dialect == "mysql":
        assert run["non_transactional"] == ["0001_users.sql", "0002_email.sql"]
        assert "MySQL commits DDL implicitly" in run["files"][0]["reason"]
    else:
        assert run["non_transactional"] == []
        assert all(f["transactional"] for f in run["files"])

    again = apply(db, path)
    assert not again["failed"], again["msg"]
    assert again["changed"] is False
    assert again["applied"] == [] and again["pending"] == []
    assert again["skipped_contract"] == ["0003_drop_name.sql"]
    assert len(db.tracking()) == 2

    recheck = apply(db, path, check=True)
    assert recheck["changed"] is False and recheck["pending"] == []


def test_contract_files_only_with_contract_true(apply, db, migrations):
    path = migrations(BASE)
    blocked = apply(db, path, contract=True)
    assert blocked["failed"]
    assert "0001_users.sql, 0002_email.sql are not applied yet" in blocked["msg"]
    assert db.tables() == set(), "refused before any change"

    assert not apply(db, path)["failed"]
    assert "name" in db.columns("users")

    plan = apply(db, path, check=True, contract=True)
    assert plan["pending"] == ["0003_drop_name.sql"] and plan["changed"]
    run = apply(db, path, contract=True, release="r2")
    assert not run["failed"], run["msg"]
    assert run["applied"] == ["0003_drop_name.sql"] and run["skipped_contract"] == []
    assert db.columns("users") == ["id", "email"]
    assert [r[2] for r in db.tracking()] == ["r1", "r1", "r2"]
    assert apply(db, path, contract=True)["changed"] is False


def test_checksum_drift_is_an_error_and_nothing_is_applied(apply, db, migrations):
    path = migrations({"0001_users.sql": USERS})
    assert not apply(db, path)["failed"]
    migrations({"0001_users.sql": USERS + "-- edited later\n", "0002_email.sql": EMAIL})

    for check in (True, False):
        run = apply(db, path, check=check)
        assert run["failed"]
        assert "0001_users.sql was applied (release r1" in run["msg"]
        assert "must never change" in run["msg"] and "Nothing was applied" in run["msg"]
        assert run["drifted"] == ["0001_users.sql"]
    assert db.columns("users") == ["id", "name"]
    assert [r[0] for r in db.tracking()] == ["0001_users.sql"]


FAILING = (
    "CREATE TABLE audit (id integer primary key);\n"
    "INSERT INTO audit (id) VALUES (1);\n"
    "\n"
    "INSERT INTO no_such_table (id) VALUES (1);\n"
    "CREATE TABLE never (id integer);\n"
)


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_failing_statement_mid_file_rolls_the_whole_file_back(apply, make_db, migrations, dialect):
    db = make_db(dialect)
    path = migrations({"0001_users.sql": USERS, "0002_audit.sql": FAILING, "0003_email.sql": EMAIL})
    run = apply(db, path)
    assert run["failed"]
    assert run["applied"] == ["0001_users.sql"]
    assert run["failed_file"] == "0002_audit.sql"
    assert run["failed_statement"]["line"] == 4
    assert "no_such_table" in run["failed_statement"]["statement"]
    assert "0002_audit.sql line 4" in run["msg"] and "Nothing of 0002_audit.sql was applied" in run["msg"]
    assert run["transactional"] is True and run["statements_run"] == []
    assert db.tables() == {"users", "zerodown_migrations"}, "nothing of the failing file may remain"
    assert [r[0] for r in db.tracking()] == ["0001_users.sql"]
    assert "email" not in db.columns("users"), "files after the failing one must not run"


def test_failing_statement_mid_file_on_mysql_reports_what_ran(apply, make_db, migrations):
    db = make_db("mysql")
    path = migrations({"0001_users.sql": USERS, "0002_audit.sql": FAILING})
    run = apply(db, path)
    assert run["failed"]
    assert run["failed_file"] == "0002_audit.sql" and run["transactional"] is False
    assert [s["line"] for s in run["statements_run"]] == [1, 2]
    assert run["failed_statement"]["line"] == 4 and "1146" in run["failed_statement"]["error"]
    assert "NOT transactional" in run["msg"] and "2 of its 4 statements ran" in run["msg"]
    assert "audit" in db.tables(), "MySQL committed the CREATE TABLE implicitly, as reported"
    assert [r[0] for r in db.tracking()] == ["0001_users.sql"]


def test_mysql_dml_only_file_is_transactional(apply, make_db, migrations):
    db = make_db("mysql")
    path = migrations({"0001_users.sql": USERS})
    assert not apply(db, path)["failed"]
    migrations(
        {
            "0002_data.sql": "INSERT INTO users (id, name) VALUES (2, 'bob');\nINSERT INTO users (id, name) VALUES (1, 'dup');\n"
        }
    )
    run = apply(db, path)
    assert run["failed"] and run["transactional"] is True and run["statements_run"] == []
    assert db.query("SELECT id FROM users ORDER BY id") == [(1,)], "the first INSERT was rolled back"


def test_two_runners_started_together_apply_each_file_once(apply, db, migrations):
    slow = {"postgresql": "SELECT pg_sleep(0.5);\n", "mysql": "SELECT SLEEP(0.5);\n", "sqlite": ""}[db.dialect]
    files = {"0001_users.sql": USERS}
    for n in range(2, 7):
        files["%04d_t%d.sql" % (n, n)] = "CREATE TABLE t%d (id integer);\n%s" % (n, slow)
    path = migrations(files)
    barrier = threading.Barrier(2)
    results = [None, None]

    def runner(i):
        barrier.wait()
        results[i] = apply(db, path, release="runner%d" % i)

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert all(r is not None and not r["failed"] for r in results), results
    applied = [set(r["applied"]) for r in results]
    assert applied[0] | applied[1] == set(files)
    assert not applied[0] & applied[1], "a file was applied by both runners"
    assert [r[0] for r in db.tracking()] == sorted(files)


def _hold_lock(db):
    """Open a transaction in another session that conflicts with ALTER TABLE users."""
    conn = db.connect()
    cur = conn.cursor()
    if db.dialect == "postgresql":
        cur.execute("BEGIN")
        cur.execute("SELECT * FROM users")
    elif db.dialect == "mysql":
        cur.execute("START TRANSACTION")
        cur.execute("SELECT * FROM users")
        cur.fetchall()
    else:
        cur.execute("BEGIN IMMEDIATE")
        cur.execute("INSERT INTO users (id, name) VALUES (99, 'writer')")
    return conn


def test_lock_held_by_another_session_times_out_cleanly(apply, db, migrations):
    path = migrations({"0001_users.sql": USERS})
    assert not apply(db, path)["failed"]
    migrations({"0002_email.sql": EMAIL})
    holder = _hold_lock(db)
    try:
        started = time.monotonic()
        run = apply(db, path, lock_timeout=1, lock_retries=1, lock_retry_delay=0.2)
        elapsed = time.monotonic() - started
    finally:
        holder.rollback() if db.dialect != "sqlite" else holder.execute("ROLLBACK")
        holder.close()
    assert run["failed"]
    assert "lock_timeout 1" in run["msg"] or "lock_timeout 1.0" in run["msg"]
    assert "2 attempts" in run["msg"]
    assert run["applied"] == []
    assert "email" not in db.columns("users")
    assert [r[0] for r in db.tracking()] == ["0001_users.sql"]
    assert elapsed < 120


def test_lock_timeout_retry_succeeds_once_the_blocker_ends(apply, db, migrations):
    path = migrations({"0001_users.sql": USERS})
    assert not apply(db, path)["failed"]
    migrations({"0002_email.sql": EMAIL})
    holder = _hold_lock(db)

    def release_later():
        # Release only after the migration has waited for the lock at least once.
        if db.dialect == "sqlite":
            time.sleep(4)
        else:
            sql = {
                "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE users%%'",
                "mysql": "SELECT count(*) FROM information_schema.processlist WHERE state LIKE 'Waiting for table metadata lock%%'",
            }[db.dialect]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not db.query(sql)[0][0]:
                time.sleep(0.1)
            time.sleep(1.5)
        holder.rollback() if db.dialect != "sqlite" else holder.execute("ROLLBACK")

    releaser = threading.Thread(target=release_later)
    releaser.start()
    try:
        run = apply(db, path, lock_timeout=1, lock_retries=10, lock_retry_delay=0.3)
    finally:
        releaser.join()
        holder.close()
    assert not run["failed"], run["msg"]
    assert run["applied"] == ["0002_email.sql"]
    if db.dialect != "sqlite":
        assert run["files"][0]["attempts"] > 1
    assert "email" in db.columns("users")


def test_old_version_queries_keep_working_during_an_additive_migration(apply, db, migrations):
    path = migrations({"0001_users.sql": USERS})
    assert not apply(db, path)["failed"]
    slow = {"postgresql": "SELECT pg_sleep(0.3);\n", "mysql": "SELECT SLEEP(0.3);\n", "sqlite": ""}[db.dialect]
    migrations(
        {
            "0002_email.sql": EMAIL + slow,
            "0003_orders.sql": "CREATE TABLE orders (id integer primary key, user_id integer);\n" + slow,
            "0004_index.sql": "CREATE INDEX users_email ON users (email);\n" + slow,
            "0005_flag.sql": "ALTER TABLE users ADD COLUMN flag integer DEFAULT 0;\n" + slow,
        }
    )
    stop = threading.Event()
    errors, done = [], []

    def old_app():
        conn = db.connect()
        if db.dialect == "sqlite":
            conn.execute("PRAGMA busy_timeout = 10000")
        n = 1000
        while not stop.is_set():
            n += 1
            try:
                cur = conn.cursor()
                cur.execute("SELECT id, name FROM users WHERE id = 1")
                cur.fetchall()
                ph = "?" if db.dialect == "sqlite" else "%s"
                cur.execute("INSERT INTO users (id, name) VALUES (%s, %s)" % (ph, ph), (n, "old-%d" % n))  # noqa: S608
                cur.close()
                if db.dialect != "sqlite":
                    conn.commit()
                done.append(n)
            except Exception as exc:
                errors.append(repr(exc))
            time.sleep(0.01)
        conn.close()

    app = threading.Thread(target=old_app)
    app.start()
    try:
        time.sleep(0.3)
        run = apply(db, path)
        time.sleep(0.3)
    finally:
        stop.set()
        app.join(30)
    assert not run["failed"], run["msg"]
    assert run["applied"] == ["0002_email.sql", "0003_orders.sql", "0004_index.sql", "0005_flag.sql"]
    assert errors == []
    assert len(done) > 10, "the old version's loop must really have run during the migration"
    assert db.query("SELECT count(*) FROM users")[0][0] == len(done) + 1


def test_no_transaction_file_on_postgresql(apply, make_db, migrations):
    db = make_db("postgresql")
    path = migrations(
        {"0001_users.sql": USERS, "0002_idx.sql": "CREATE INDEX CONCURRENTLY users_name ON users (name);\n"}
    )
    run = apply(db, path)
    assert run["failed"] and "cannot run inside a transaction" in run["msg"] and "0002_idx.sql line 1" in run["msg"]
    assert db.tables() == set(), "validated before any change, the tracking table included"

    migrations(
        {
            "0002_idx.sql": (
                "-- +goose Up\n-- +goose NO TRANSACTION\n"
                "CREATE INDEX CONCURRENTLY users_name ON users (name);\n"
                "-- +goose Down\nDROP INDEX users_name;\n"
            )
        }
    )
    run = apply(db, path, statement_timeout=30)
    assert not run["failed"], run["msg"]
    assert run["non_transactional"] == ["0002_idx.sql"]
    assert db.query("SELECT indexname FROM pg_indexes WHERE tablename = 'users' AND indexname = 'users_name'")


def test_mysql_delimiter_procedure(apply, make_db, migrations):
    db = make_db("mysql")
    path = migrations(
        {
            "0001_users.sql": USERS,
            "0002_proc.sql": (
                "DELIMITER //\nCREATE PROCEDURE add_user(IN n varchar(100))\nBEGIN\n"
                "  INSERT INTO users (id, name) VALUES (2, n);\n  SELECT 1;\nEND //\n"
                "DELIMITER ;\nCALL add_user('x;y');\n"
            ),
        }
    )
    run = apply(db, path)
    assert not run["failed"], run["msg"]
    assert db.query("SELECT name FROM users WHERE id = 2") == [("x;y",)]


def test_statement_timeout_is_enforced(apply, make_db, migrations):
    db = make_db("postgresql")
    path = migrations({"0001_slow.sql": "SELECT pg_sleep(5);\n"})
    run = apply(db, path, statement_timeout=0.5)
    assert run["failed"] and "longer than statement_timeout 0.5" in run["msg"]
    assert db.tracking() == []


PASSWORD = "Sup3r-S3cret-pw"


@pytest.mark.parametrize(
    "case,args,expect",
    [
        (
            "wrong user",
            {"dsn": "postgresql://nobody_here:%s@127.0.0.1:5432/postgres" % PASSWORD},
            "user 'nobody_here' does not exist",
        ),
        (
            "wrong password",
            {"dsn": "mysql://root@127.0.0.1:3306/mysql", "password": PASSWORD},
            "check user and password",
        ),
        (
            "unreachable",
            {"dialect": "postgresql", "host": "127.0.0.1", "port": 1, "database": "x", "password": PASSWORD},
            "cannot reach 127.0.0.1:1: check host and port",
        ),
        (
            "unknown database",
            {"dsn": "mysql://root:%s@127.0.0.1:3306/zd_no_such_db" % PASSWORD, "password": ""},
            "check user and password",
        ),
        (
            "bad table name",
            {"dsn": "postgresql://postgres:%s@127.0.0.1/postgres" % PASSWORD, "table": "x; DROP TABLE users"},
            "is not a valid tracking table name",
        ),
    ],
)
def test_connection_errors_name_the_fix_and_hide_the_password(module_runner, migrations, case, args, expect):
    path = migrations({"0001_users.sql": USERS})
    run = module_runner("migration_apply", dict(args, path=path, connect_timeout=3))
    assert run["failed"], case
    assert expect in run["msg"], run["msg"]
    assert PASSWORD not in json.dumps(run)


def test_missing_directory_and_missing_sqlite_directory(module_runner, tmp_path):
    run = module_runner("migration_apply", {"path": str(tmp_path / "nope"), "dsn": "sqlite:///%s/a.db" % tmp_path})
    assert run["failed"] and "migration path %s does not exist" % (tmp_path / "nope") in run["msg"]
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "0001_a.sql").write_text("CREATE TABLE a (x int);\n")
    run = module_runner("migration_apply", {"path": str(tmp_path / "m"), "dsn": "sqlite:///%s/no/a.db" % tmp_path})
    assert run["failed"] and "directory %s/no does not exist" % tmp_path in run["msg"]
    plan = module_runner(
        "migration_apply", {"path": str(tmp_path / "m"), "dsn": "sqlite:///%s/a.db" % tmp_path}, check=True
    )
    assert plan["pending"] == ["0001_a.sql"] and not (tmp_path / "a.db").exists()


def test_password_never_in_a_successful_result(apply, make_db, migrations):
    db = make_db("postgresql")
    path = migrations({"0001_users.sql": USERS})
    run = apply(db, path, dsn="postgresql://postgres:%s@127.0.0.1:5432/%s" % (PASSWORD, db.name), password=None)
    assert not run["failed"], run["msg"]
    assert PASSWORD not in json.dumps(run)
    assert run["database"] == "postgresql://postgres@127.0.0.1:5432/%s" % db.name


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_runner_lock_held_by_another_runner_times_out_with_a_clear_message(apply, make_db, migrations, dialect):
    db = make_db(dialect)
    path = migrations({"0001_users.sql": USERS})
    holder = db.connect()
    cur = holder.cursor()
    if dialect == "postgresql":
        cur.execute("SELECT pg_advisory_lock(%s)", (runner_lock_key("zerodown_migrations"),))
    else:
        cur.execute("SELECT GET_LOCK(%s, 0)", (runner_lock_name("zerodown_migrations"),))
    cur.fetchall()
    try:
        run = apply(db, path, runner_lock_timeout=1)
    finally:
        holder.close()
    assert run["failed"]
    assert "another migration runner holds the lock zerodown:zerodown_migrations" in run["msg"]
    assert "runner_lock_timeout" in run["msg"]
    assert run["applied"] == [] and "users" not in db.tables()
    assert not apply(db, path)["failed"], "the lock goes away with the holder's session"


def test_expect_pending_applies_exactly_what_was_checked(apply, db, migrations):
    path = migrations({"0001_users.sql": USERS})
    checked = apply(db, path, check=True)["pending"]
    assert checked == ["0001_users.sql"]
    migrations({"0002_email.sql": EMAIL})  # a file that came after the check
    for check in (True, False):
        refused = apply(db, path, check=check, expect_pending=checked)
        assert refused["failed"] and refused["applied"] == []
        assert "are now [0001_users.sql, 0002_email.sql], not the [0001_users.sql] that were checked" in refused["msg"]
        assert "Nothing was applied" in refused["msg"]
        assert refused["expect_pending"] == checked and refused["pending"] == ["0001_users.sql", "0002_email.sql"]
    assert db.tables() == set(), "nothing applied, not even the tracking table"
    run = apply(db, path, expect_pending=["0001_users.sql", "0002_email.sql"])
    assert not run["failed"], run["msg"]
    assert run["applied"] == ["0001_users.sql", "0002_email.sql"]
    # applied meanwhile by another runner: the list the check saw is no longer pending
    late = apply(db, path, expect_pending=["0002_email.sql"])
    assert late["failed"] and "are now [], not the [0002_email.sql]" in late["msg"]
    assert apply(db, path, expect_pending=[])["changed"] is False


@pytest.fixture
def silent_port():
    """A loopback port that accepts TCP connections and never answers (a hung or firewalled-late server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_unreachable_database_at_the_check_names_host_and_port(module_runner, migrations, silent_port, dialect):
    path = migrations({"0001_users.sql": USERS})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens there once the probe is closed
    for port, expect in (
        (closed, "cannot reach 127.0.0.1:%d" % closed),
        (silent_port, "no answer from 127.0.0.1:%d in time" % silent_port),
    ):
        started = time.monotonic()
        args = {"dialect": dialect, "host": "127.0.0.1", "port": port, "database": "x", "password": PASSWORD}
        run = module_runner("migration_apply", dict(args, path=path, connect_timeout=2), check=True)
        assert run["failed"] and expect in run["msg"], run["msg"]
        assert time.monotonic() - started < 30, "the connect timeout bounds the wait"
        assert PASSWORD not in json.dumps(run) and "Traceback" not in json.dumps(run)
