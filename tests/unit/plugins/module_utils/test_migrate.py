from __future__ import annotations

import sqlite3

import pytest
from zerodown_testkit.support.fake_clock import FakeClock

from ansible_collections.zerodown.deploy.plugins.module_utils import _db, _migrate
from ansible_collections.zerodown.deploy.plugins.module_utils._migrate import (
    MigrateError,
    Migrator,
    validate_table_name,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._migrations import MigrationFile
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure


def mf(name, text):
    return MigrationFile("/m/" + name, text)


FILES = [
    mf("1_a.sql", "CREATE TABLE a (x int);"),
    mf("2_drop.sql", "-- zerodown:contract\nALTER TABLE a DROP COLUMN x;"),
    mf("3_b.sql", "CREATE TABLE b (x int);"),
]


def applied(*files):
    return {f.id: {"checksum": f.checksum, "applied_at": "t", "release": "r0"} for f in files}


def test_plan_skips_contract_files_and_lists_them():
    pending, skipped = Migrator(None, "postgresql").plan(FILES, applied(FILES[0]))
    assert [f.id for f in pending] == ["3_b.sql"] and skipped == ["2_drop.sql"]


def test_contract_plan_waits_for_expand_files_ordered_before():
    with pytest.raises(MigrateError, match="1_a.sql is not applied yet") as info:
        Migrator(None, "postgresql").plan(FILES, {}, contract=True)
    assert info.value.details == {"blocking": ["1_a.sql"]}
    pending, skipped = Migrator(None, "postgresql").plan(FILES, applied(FILES[0]), contract=True)
    assert [f.id for f in pending] == ["2_drop.sql"] and skipped == []


def test_drift_names_every_changed_file():
    rows = applied(FILES[0])
    rows["1_a.sql"]["checksum"] = "0" * 64
    with pytest.raises(MigrateError, match=r"/m/1_a.sql was applied \(release r0, t\) with checksum 000000000000"):
        Migrator(None, "sqlite").plan(FILES, rows)


def test_postgresql_statement_that_refuses_a_transaction_needs_the_marker():
    files = [mf("1_i.sql", "-- why\nCREATE UNIQUE INDEX CONCURRENTLY i ON a (x);")]
    with pytest.raises(MigrateError, match="1_i.sql line 2: CREATE UNIQUE INDEX CONCURRENTLY"):
        Migrator(None, "postgresql").plan(files, {})
    marked = [mf("1_i.sql", "-- +goose NO TRANSACTION\nCREATE INDEX CONCURRENTLY i ON a (x);")]
    assert Migrator(None, "postgresql").plan(marked, {})[0] == marked


def test_mysql_ddl_is_reported_as_non_transactional_but_dml_and_temporary_tables_are_not():
    m = Migrator(None, "mysql")
    assert "MySQL commits DDL implicitly (line 2: ALTER TABLE a" in m.non_transactional_reason(
        mf("1.sql", "INSERT INTO a VALUES (1);\nALTER TABLE a ADD y int;")
    )
    assert (
        m.non_transactional_reason(mf("2.sql", "CREATE TEMPORARY TABLE t (x int);\nUPDATE a SET x = 1 WHERE x = 2;"))
        is None
    )
    assert Migrator(None, "postgresql").non_transactional_reason(mf("3.sql", "ALTER TABLE a ADD y int;")) is None


def test_unsplittable_file_is_an_error_before_anything_runs():
    with pytest.raises(MigrateError, match="never closed. Nothing was applied"):
        Migrator(None, "postgresql").plan([mf("1.sql", "SELECT 'oops;")], {})


@pytest.mark.parametrize("name", ["x; DROP TABLE a", "a.b.c", "", "1abc", "a-b", "zerodown_migrations\n", "ops.t\n"])
def test_table_names_are_validated(name):
    with pytest.raises(ValueError, match="not a valid tracking table name"):
        validate_table_name(name, "postgresql")
    assert validate_table_name("ops.zerodown_migrations", "mysql") == ["ops", "zerodown_migrations"]
    with pytest.raises(ValueError):
        validate_table_name("ops.t", "sqlite")


def _sqlite(tmp_path):
    conn = sqlite3.connect(str(tmp_path / "a.db"), isolation_level=None, check_same_thread=False)
    return conn


def test_sqlite_apply_rolls_back_the_failing_file_and_keeps_earlier_ones(tmp_path):
    conn = _sqlite(tmp_path)
    files = [
        mf("1_a.sql", "CREATE TABLE a (x int);\nINSERT INTO a VALUES (1);"),
        mf("2_bad.sql", "CREATE TABLE b (x int);\nINSERT INTO nope VALUES (1);"),
    ]
    m = Migrator(conn, "sqlite", release="r1", applied_by="me@here", clock=FakeClock())
    with pytest.raises(MigrateError) as info:
        m.apply(files)
    assert info.value.details["failed_file"] == "2_bad.sql"
    assert info.value.details["failed_statement"]["line"] == 2
    assert m.result["applied"] == ["1_a.sql"]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"a", "zerodown_migrations"}
    assert conn.execute("SELECT id, release, applied_by FROM zerodown_migrations").fetchall() == [
        ("1_a.sql", "r1", "me@here")
    ]


def test_sqlite_lock_timeout_retries_then_reports(tmp_path):
    conn = _sqlite(tmp_path)
    other = _sqlite(tmp_path)
    other.execute("CREATE TABLE a (x int)")
    other.execute("BEGIN IMMEDIATE")
    clock = FakeClock()
    m = Migrator(conn, "sqlite", lock_timeout=0.2, lock_retries=2, lock_retry_delay=7, clock=clock)
    with pytest.raises(Exception, match=r"3 attempts of lock_timeout 0.2s, 7s apart"):
        m.apply([mf("1_a.sql", "ALTER TABLE a ADD y int;")])
    assert clock.sleeps.count(7) == 2
    other.execute("ROLLBACK")


def test_tracking_table_of_another_tool_is_refused(tmp_path):
    conn = _sqlite(tmp_path)
    conn.execute("CREATE TABLE schema_migrations (version text)")
    with pytest.raises(MigrateError, match="schema_migrations exists but is not a zerodown tracking table"):
        Migrator(conn, "sqlite", table="schema_migrations").apply(FILES[:1])


def test_expect_pending_names_both_lists_when_they_differ():
    with pytest.raises(
        MigrateError, match=r"are now \[1_a.sql, 3_b.sql\], not the \[1_a.sql\] that were checked"
    ) as info:
        Migrator(None, "postgresql").plan(FILES, {}, expect_pending=["1_a.sql"])
    assert info.value.details == {"pending": ["1_a.sql", "3_b.sql"], "expect_pending": ["1_a.sql"]}
    with pytest.raises(MigrateError, match=r"are now \[\], not the \[3_b.sql\]"):
        Migrator(None, "postgresql").plan(FILES, applied(FILES[0], FILES[2]), expect_pending=["3_b.sql"])
    pending, _skipped = Migrator(None, "postgresql").plan(FILES, applied(FILES[0]), expect_pending=["3_b.sql"])
    assert [f.id for f in pending] == ["3_b.sql"]
    assert Migrator(None, "postgresql").plan(FILES, applied(FILES[0], FILES[2]), expect_pending=[])[0] == []


def test_sqlite_apply_with_another_pending_list_than_expected_applies_nothing(tmp_path):
    conn = _sqlite(tmp_path)
    files = [mf("1_a.sql", "CREATE TABLE a (x int);"), mf("2_b.sql", "CREATE TABLE b (x int);")]
    m = Migrator(conn, "sqlite", release="r1", clock=FakeClock())
    with pytest.raises(MigrateError, match=r"are now \[1_a.sql, 2_b.sql\], not the \[1_a.sql\].*Nothing was applied"):
        m.apply(files, expect_pending=["1_a.sql"])
    assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == []
    assert m.apply(files, expect_pending=["1_a.sql", "2_b.sql"])["applied"] == ["1_a.sql", "2_b.sql"]


# -- the migration_apply module's engine (_migrate.run), without AnsibleModule -------------------


def apply_params(tmp_path, **options):
    migrations = tmp_path / "migrations"
    if not migrations.exists():
        migrations.mkdir()
        (migrations / "001_create.sql").write_text("CREATE TABLE items (id integer PRIMARY KEY);\n")
        (migrations / "002_add.sql").write_text("ALTER TABLE items ADD COLUMN note text;\n")
    params = dict(
        path=str(migrations),
        dialect=None,
        dsn="sqlite:///%s" % (tmp_path / "app.db"),
        host=None,
        port=None,
        user=None,
        password=None,
        database=None,
        release="v2",
        table="zerodown_migrations",
        lock_timeout=5,
        statement_timeout=0,
        lock_retries=3,
        lock_retry_delay=5,
        runner_lock_timeout=300,
        connect_timeout=10,
        contract=False,
        applied_by="deployer@ctl1",
        expect_pending=None,
    )
    params.update(options)
    return params


def test_run_in_check_mode_lists_every_file_of_a_database_not_created_yet(tmp_path):
    out = _migrate.run(apply_params(tmp_path), check_mode=True)
    assert out["changed"] and out["pending"] == ["001_create.sql", "002_add.sql"] and out["applied"] == []
    assert out["diff"] == {"before": "", "after": "001_create.sql\n002_add.sql\n"}
    assert out["database"].startswith("sqlite:") and not (tmp_path / "app.db").exists()


def test_run_applies_the_pending_files_once(tmp_path):
    first = _migrate.run(apply_params(tmp_path), check_mode=False)
    assert first["changed"] and first["applied"] == ["001_create.sql", "002_add.sql"] and "warnings" not in first
    assert first["diff"] == {"before": "", "after": "001_create.sql\n002_add.sql\n"}
    again = _migrate.run(apply_params(tmp_path), check_mode=False)
    assert again["changed"] is False and again["applied"] == [] and again["diff"]["after"] == first["diff"]["after"]
    planned = _migrate.run(apply_params(tmp_path), check_mode=True)
    assert planned["changed"] is False and planned["diff"]["before"] == planned["diff"]["after"]


def test_run_failure_reports_what_was_applied_before_it(tmp_path):
    params = apply_params(tmp_path)
    with open(params["path"] + "/003_bad.sql", "w") as handle:
        handle.write("ALTER TABLE nowhere ADD COLUMN x int;\n")
    with pytest.raises(ModuleFailure) as exc:
        _migrate.run(params, check_mode=False)
    assert "003_bad.sql" in exc.value.msg
    assert exc.value.result["applied"] == ["001_create.sql", "002_add.sql"] and exc.value.result["changed"] is True


@pytest.mark.parametrize(
    "options, message",
    [
        ({"table": "bad name;"}, "table"),
        ({"lock_retries": -1}, "lock_retries"),
        ({"dsn": None}, "set dialect (postgresql, mysql or sqlite) or a dsn URL that names it"),
    ],
)
def test_run_refuses_bad_options_before_connecting(tmp_path, options, message):
    with pytest.raises(ModuleFailure) as exc:
        _migrate.run(apply_params(tmp_path, **options), check_mode=False)
    assert message in exc.value.msg and exc.value.result["applied"] == []
    assert not (tmp_path / "app.db").exists()


def test_the_password_of_a_dsn_is_a_secret_of_the_run():
    params = dict(dialect=None, dsn="postgresql://app:s3cret-pw@db9/shop", host=None, port=None, user=None)
    params.update(password=None, database=None)
    assert _migrate.connection_secrets(params) == ["s3cret-pw"]
    assert _migrate.connection_secrets(dict(params, password="vault-pw")) == ["vault-pw"]
    assert _migrate.connection_secrets(dict(params, dsn="postgresql://app@db9")) == []  # no database: no spec


def test_mysql_ddl_committed_statement_by_statement_is_a_warning(tmp_path):
    class Applying:
        result = {}

        def apply(self, files, contract, expect_pending):
            return dict(applied=["001_create.sql"], non_transactional=["001_create.sql"], pending=["001_create.sql"])

        def inspect(self):
            return {"001_create.sql": {}}

    spec = _db.build_spec("mysql", host="db9", database="shop")
    out = _migrate._ApplyRun(apply_params(tmp_path), False).applied(Applying(), [], spec)
    assert out["warnings"] == [
        "MySQL/MariaDB committed the DDL of 001_create.sql statement by statement (implicit commit): these files "
        "were not atomic"
    ]
    assert out["changed"] and out["diff"] == {"before": "", "after": "001_create.sql\n"}
