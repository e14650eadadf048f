"""Focused tests of the migration rules engine, with inline SQL (the corpus test covers whole files)."""

from __future__ import annotations

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import Catalog, ColumnInfo, TableInfo
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.registry import RULES
from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import SqlSafetyError, analyze_sql


def blocking(sql: str, dialect: str = "postgresql", **kw) -> list:
    report = analyze_sql(sql, dialect, **kw)
    return sorted({f.rule for f in report.findings if f.blocking})


def findings(sql: str, dialect: str = "postgresql", **kw) -> list:
    return analyze_sql(sql, dialect, **kw).findings


# ---- reading real-world text


def test_comments_anywhere_and_missing_semicolon_and_mixed_case():
    sql = """-- Licensed under the Apache License
/* header
   ; with a semicolon */
aLtEr /* inline */ TABLE users -- trailing ; comment
  DROP email"""
    found = findings(sql)
    assert [(f.rule, f.line) for f in found] == [("drop_column", 4)]
    assert found[0].statement.startswith("aLtEr")


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("ALTER TABLE t DROP col", "drop_column"),
        ("ALTER TABLE t RENAME a TO b", "rename_column"),
        ("ALTER TABLE t ADD version INT NOT NULL", "add_not_null_no_default"),
        ('ALTER TABLE "Users" RENAME COLUMN "Name" TO "full_name"', "rename_column"),
        ("ALTER TABLE ONLY public.t ALTER COLUMN c SET NOT NULL", "set_not_null"),
        ("ALTER TABLE t ALTER c TYPE bigint", "alter_type"),
    ],
)
def test_optional_keywords(sql, rule):
    assert blocking(sql) == [rule]


def test_several_actions_in_one_alter_table():
    sql = "ALTER TABLE users ADD COLUMN a int, DROP COLUMN b, RENAME COLUMN c TO d, ALTER COLUMN e SET NOT NULL;"
    assert blocking(sql) == ["drop_column", "rename_column", "set_not_null"]


def test_line_is_where_the_statement_starts():
    sql = "CREATE TABLE a (id int);\n\n-- why\nALTER TABLE b\n  DROP COLUMN c;\n"
    assert [f.line for f in findings(sql)] == [4]


def test_semicolons_in_strings_and_identifiers_do_not_split():
    sql = "INSERT INTO notes VALUES ('a; DROP TABLE users');\nCOMMENT ON TABLE t IS 'x;y';"
    assert findings(sql) == []


# ---- PostgreSQL bodies


def test_do_block_ddl_is_checked_with_its_own_line():
    sql = """DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'i') THEN
    CREATE INDEX i ON orders (created_at);
  END IF;
END
$$;"""
    found = findings(sql)
    assert [(f.rule, f.line) for f in found] == [("create_index_blocking", 4)]
    assert "DO block" in found[0].message


def test_do_block_with_tagged_dollar_quote_declare_and_execute_literal():
    sql = """DO $migrate$
DECLARE
  n int := 0;
BEGIN
  EXECUTE 'ALTER TABLE users DROP COLUMN legacy';
  RAISE NOTICE 'done %', n;
END $migrate$ LANGUAGE plpgsql;"""
    assert blocking(sql) == ["drop_column"]


def test_function_body_runs_only_when_called():
    create = """CREATE OR REPLACE FUNCTION purge() RETURNS void AS $$
BEGIN
  DELETE FROM sessions;
END;
$$ LANGUAGE plpgsql;
"""
    assert blocking(create) == []
    assert blocking(create + "SELECT purge();") == ["delete_all"]


def test_unterminated_dollar_quote_is_a_finding():
    found = findings("DO $$ BEGIN ALTER TABLE t DROP COLUMN c;")
    assert [f.rule for f in found] == ["unparsed"]
    assert found[0].severity == "error" and "unterminated" in found[0].message


# ---- MySQL bodies


def test_mysql_delimiter_procedure_called():
    sql = """DELIMITER $$
CREATE PROCEDURE migrate()
BEGIN
  IF EXISTS (SELECT * FROM information_schema.columns WHERE column_name = 'legacy') THEN
    ALTER TABLE users DROP COLUMN legacy;
  END IF;
END $$
DELIMITER ;
CALL migrate();
DROP PROCEDURE migrate;
"""
    found = findings(sql, "mysql")
    assert [(f.rule, f.line) for f in found] == [("drop_column", 5)]


def test_mysql_procedure_without_delimiter_is_one_statement():
    sql = "CREATE PROCEDURE p() BEGIN UPDATE t SET a = 1 WHERE id = 2; END;\nCALL p();"
    assert blocking(sql, "mysql") == []


def test_mysql_prepared_string_from_set():
    sql = """SET @s = (SELECT IF(COUNT(*) = 0,
  'ALTER TABLE orders ADD COLUMN note TEXT',
  'ALTER TABLE orders DROP COLUMN note') FROM information_schema.columns WHERE table_name = 'orders');
PREPARE stmt FROM @s;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;"""
    assert blocking(sql, "mysql") == ["drop_column"]


def test_mysql_prepared_concat():
    sql = "SET @q = CONCAT('ALTER TABLE ', @t, ' RENAME COLUMN a TO b'); PREPARE s FROM @q; EXECUTE s;"
    assert blocking(sql, "mysql") == ["rename_column"]


# ---- goose


def test_goose_only_up_counts_and_no_transaction_makes_validate_safe():
    sql = """-- +goose Up
ALTER TABLE orders ADD CONSTRAINT c CHECK (total >= 0) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT c;
-- +goose Down
ALTER TABLE orders DROP COLUMN total;
"""
    assert blocking(sql) == ["add_constraint_validating"]
    no_tx = sql.replace("-- +goose Up", "-- +goose NO TRANSACTION\n-- +goose Up")
    assert blocking(no_tx) == []


def test_commit_between_not_valid_and_validate():
    sql = (
        "ALTER TABLE o ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES u(id) NOT VALID;\nCOMMIT;\nBEGIN;\n"
        "ALTER TABLE o VALIDATE CONSTRAINT f;"
    )
    assert blocking(sql) == []


# ---- net effect


def test_new_table_is_free():
    sql = """CREATE TABLE invoices (id bigint PRIMARY KEY, number text);
CREATE UNIQUE INDEX invoices_number ON invoices (number);
ALTER TABLE invoices ALTER COLUMN number SET NOT NULL;
ALTER TABLE invoices ADD CONSTRAINT amount_positive CHECK (id > 0);
ALTER TABLE invoices RENAME COLUMN number TO code;
DROP TABLE invoices;"""
    assert blocking(sql) == []


def test_not_null_default_then_drop_default():
    sql = "ALTER TABLE u ADD COLUMN plan text NOT NULL DEFAULT 'free';\nALTER TABLE u ALTER COLUMN plan DROP DEFAULT;"
    found = findings(sql)
    assert [(f.rule, f.line) for f in found] == [("add_not_null_no_default", 2)]
    assert blocking(sql.split("\n", maxsplit=1)[0]) == []


def test_add_nullable_then_set_not_null_is_a_not_null_without_default():
    sql = "ALTER TABLE u ADD COLUMN plan text;\nALTER TABLE u ALTER COLUMN plan SET NOT NULL;"
    assert blocking(sql) == ["add_not_null_no_default"]


@pytest.mark.parametrize(
    ("default", "rules"),
    [
        ("now()", []),
        ("CURRENT_TIMESTAMP", []),
        ("'{}'::jsonb", []),
        ("0", []),
        ("gen_random_uuid()", ["add_column_volatile_default"]),
        ("random()", ["add_column_volatile_default"]),
        ("clock_timestamp()", ["add_column_volatile_default"]),
        ("my_schema.next_code()", ["add_column_volatile_default"]),
    ],
)
def test_volatile_vs_stable_defaults(default, rules):
    assert blocking("ALTER TABLE t ADD COLUMN c text DEFAULT %s;" % default) == rules


def test_serial_column_is_a_volatile_default():
    assert blocking("ALTER TABLE t ADD COLUMN n bigserial;") == ["add_column_volatile_default"]


def test_varchar_widening_needs_the_prior_type():
    sql = "ALTER TABLE users ALTER COLUMN name TYPE varchar(200);"
    assert blocking(sql) == ["alter_type"]
    catalog = Catalog()
    catalog.tables["users"] = TableInfo("users")
    catalog.tables["users"].columns["name"] = ColumnInfo("name", "varchar(100)")
    assert blocking(sql, catalog=catalog) == []
    catalog.tables["users"].columns["name"] = ColumnInfo("name", "varchar(300)")
    assert blocking(sql, catalog=catalog) == ["alter_type"]  # narrowing


def test_catalog_carries_types_from_one_file_to_the_next():
    catalog = Catalog()
    analyze_sql("CREATE TABLE users (id int, name varchar(50));", "postgresql", "001.sql", catalog=catalog)
    assert blocking("ALTER TABLE users ALTER COLUMN name TYPE text;", catalog=catalog) == []
    # but a table created in an earlier file is not free: it may be in use already
    assert blocking("ALTER TABLE users DROP COLUMN name;", catalog=catalog) == ["drop_column"]


def test_small_table_in_schema_aware_mode():
    catalog = Catalog(authoritative=True)
    catalog.tables["flags"] = TableInfo("flags", row_count=12)
    catalog.tables["events"] = TableInfo("events", row_count=5_000_000)
    assert blocking("CREATE INDEX i ON flags (name);", catalog=catalog, small_table_rows=1000) == []
    assert blocking("CREATE INDEX i ON events (name);", catalog=catalog, small_table_rows=1000) == [
        "create_index_blocking"
    ]
    # a table the database does not have is created by a pending migration: no old version uses it
    assert blocking("ALTER TABLE brand_new DROP COLUMN x;", catalog=catalog) == []


# ---- SQLite rebuilds


REBUILD = """PRAGMA foreign_keys=off;
BEGIN;
CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
INSERT INTO users_new (id, email) SELECT id, email FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
COMMIT;
"""


def test_rebuild_with_known_old_definition_sees_the_dropped_column():
    catalog = Catalog()
    analyze_sql(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, bio TEXT);", "sqlite", catalog=catalog
    )
    found = findings(REBUILD, "sqlite", catalog=catalog)
    assert [(f.rule, f.line) for f in found] == [("drop_column", 6)]


def test_rebuild_that_keeps_everything_is_safe():
    catalog = Catalog()
    analyze_sql("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);", "sqlite", catalog=catalog)
    assert findings(REBUILD, "sqlite", catalog=catalog) == []


def test_rebuild_with_unknown_old_definition_fails_closed():
    found = findings(REBUILD, "sqlite")
    assert [(f.rule, f.severity, f.line) for f in found] == [("undetermined", "error", 6)]
    assert "old definition" in found[0].message and "users" in found[0].message
    assert not analyze_sql(REBUILD, "sqlite").compatible


def test_on_undetermined_warn_keeps_the_old_behaviour():
    report = analyze_sql(REBUILD, "sqlite", on_undetermined="warn")
    assert [(f.rule, f.severity) for f in report.findings] == [("undetermined", "warning")]
    assert report.compatible


def test_undetermined_can_be_waived_with_a_reason():
    sql = REBUILD.replace(
        "ALTER TABLE users_new",
        "-- zerodown:waive undetermined reason: users had only id and email\nALTER TABLE users_new",
    )
    report = analyze_sql(sql, "sqlite")
    assert report.compatible and [f.waived for f in report.findings] == [True]


def test_unknown_on_undetermined_is_an_error():
    with pytest.raises(SqlSafetyError, match="on_undetermined"):
        analyze_sql("SELECT 1", "sqlite", on_undetermined="ignore")


# ---- MySQL copies


@pytest.mark.parametrize(
    ("sql", "rules"),
    [
        ("ALTER TABLE t ADD COLUMN c INT, ALGORITHM=COPY", ["table_rewrite"]),
        ("ALTER TABLE t ENGINE=InnoDB", ["table_rewrite"]),
        ("OPTIMIZE TABLE t", ["table_rewrite"]),
        ("ALTER TABLE t ADD INDEX i (c), ALGORITHM=INPLACE, LOCK=NONE", []),
        ("ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4", ["alter_type"]),
        ("ALTER TABLE t CHANGE a b INT", ["rename_column"]),
        ("LOCK TABLES t WRITE", ["lock_table"]),
    ],
)
def test_mysql_copy_operations(sql, rules):
    assert blocking(sql, "mysql") == rules


# ---- data


@pytest.mark.parametrize(
    ("sql", "rules"),
    [
        ("UPDATE t SET a = 1", ["update_all"]),
        ("UPDATE t SET a = 1 WHERE 1 = 1", ["update_all"]),
        ("UPDATE t SET a = 1 WHERE true", ["update_all"]),
        ("UPDATE t SET a = 1 WHERE id BETWEEN 1 AND 1000", []),
        ("DELETE FROM t", ["delete_all"]),
        ("DELETE FROM t WHERE created_at < now() - interval '1 year'", []),
        ("WITH x AS (DELETE FROM t RETURNING *) SELECT count(*) FROM x", ["delete_all"]),
        ("TRUNCATE TABLE t", ["truncate"]),
    ],
)
def test_data_statements(sql, rules):
    assert blocking(sql) == rules


# ---- waivers


def test_waiver_comment_above_and_on_the_statement():
    sql = """ALTER TABLE a DROP COLUMN x;
-- zerodown:waive drop_column reason: unused since v41, OPS-123
ALTER TABLE b DROP COLUMN y;
ALTER TABLE c DROP COLUMN z; -- zerodown:waive drop_column, rename_column reason: reviewed
"""
    found = findings(sql)
    assert [(f.line, f.waived, f.waiver_reason) for f in found] == [
        (1, False, None),
        (3, True, "unused since v41, OPS-123"),
        (4, True, "reviewed"),
    ]


def test_waiver_for_another_rule_waives_nothing():
    sql = "-- zerodown:waive drop_table reason: no\nALTER TABLE b DROP COLUMN y;"
    assert blocking(sql) == ["drop_column"]


def test_waiver_without_reason_is_invalid():
    sql = "-- zerodown:waive drop_column\nALTER TABLE b DROP COLUMN y;"
    assert blocking(sql) == ["drop_column", "invalid_waiver"]
    sql = "-- zerodown:waive no_such_rule reason: x\nSELECT 1;"
    assert blocking(sql) == ["invalid_waiver"]


def test_option_waiver_with_file_glob():
    waivers = [{"rule": "drop_column", "file": "*_legacy.sql", "reason": "ticket 9"}]
    sql = "ALTER TABLE b DROP COLUMN y;"
    assert blocking(sql, path="db/003_legacy.sql", waivers=waivers) == []
    assert blocking(sql, path="db/004_other.sql", waivers=waivers) == ["drop_column"]


# ---- contract, unparsed, garbage


def test_contract_file_is_reported_but_never_blocks():
    report = analyze_sql("-- zerodown:contract\nALTER TABLE users DROP COLUMN email;", "postgresql")
    assert report.contract and report.compatible
    assert [f.rule for f in report.findings] == ["drop_column"]


def test_unparsed_statements_are_reported():
    assert [(f.rule, f.severity) for f in findings("FROBNICATE the database; SELECT 1;")] == [("undetermined", "error")]
    assert [(f.rule, f.severity) for f in findings("ALTER TABLE t FROBNICATE c;")] == [("unparsed", "error")]


@pytest.mark.parametrize(
    ("text", "severity", "words"),
    [
        ("", "warning", "no SQL statement"),
        ("-- only a comment\n", "warning", "no SQL statement"),
        ("\x00\x01\x02binary\x00", "error", "binary"),
        ("INSERT INTO t VALUES ('oops);\n", "error", "unterminated string"),
        ("/* never closed\nALTER TABLE t DROP COLUMN c;", "error", "unterminated comment"),
    ],
)
def test_garbage_input(text, severity, words):
    found = findings(text)
    assert len(found) == 1 and found[0].rule == "unparsed" and found[0].severity == severity
    assert words in found[0].message


def test_huge_file_is_bounded():
    """5 MB of statements: the analysis ends and says what it could not check (no timing assert here; see bench/)."""
    text = "ALTER TABLE users ADD COLUMN email varchar(200) DEFAULT 'x';\n" * 85000
    found = findings(text)
    assert [f.rule for f in found] == ["unparsed"]
    assert "not checked" in found[0].message
    data = "INSERT INTO t (a, b) VALUES (1, 'x; y');\n" * 120000
    assert findings(data) == []


def test_unknown_dialect():
    with pytest.raises(SqlSafetyError, match="unknown dialect 'oracle'"):
        analyze_sql("SELECT 1", "oracle")


def test_every_rule_has_text():
    for rule in RULES.values():
        assert rule.summary and rule.remedy and rule.dialects


def test_prisma_rebuild_declares_the_dropped_column():
    sql = """/*
  Warnings:

  - You are about to drop the column `ispb` on the `banks` table. All the data in the column will be lost.

*/
-- RedefineTables
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_banks" ("id" TEXT NOT NULL PRIMARY KEY, "name" TEXT NOT NULL);
INSERT INTO "new_banks" ("id", "name") SELECT "id", "name" FROM "banks";
DROP TABLE "banks";
ALTER TABLE "new_banks" RENAME TO "banks";
PRAGMA foreign_keys=ON;
"""
    assert [(f.rule, f.line) for f in findings(sql, "sqlite")] == [("drop_column", 12)]


def test_django_add_field_with_default_then_drop_default():
    sql = (
        'ALTER TABLE "shop_order" ADD COLUMN "priority" integer DEFAULT 0 NOT NULL;\n'
        'ALTER TABLE "shop_order" ALTER COLUMN "priority" DROP DEFAULT;\n'
    )
    assert blocking(sql) == ["add_not_null_no_default"]


@pytest.mark.parametrize(
    ("up", "down"),
    [("-- +goose Up", "-- +goose Down"), ("-- +migrate Up", "-- +migrate Down"), ("-- migrate:up", "-- migrate:down")],
)
def test_only_the_up_section_counts_for_goose_sql_migrate_and_dbmate(up, down):
    sql = "%s\nALTER TABLE invoices ADD COLUMN pdf_url text;\n\n%s\nALTER TABLE invoices DROP COLUMN pdf_old;\n" % (
        up,
        down,
    )
    assert findings(sql) == []


def test_byte_order_mark_does_not_hide_the_first_statement():
    assert blocking("\ufeffALTER TABLE t DROP COLUMN c;\r\n") == ["drop_column"]


def test_text_that_is_not_sql_blocks():
    found = findings('{"name": "not sql"}\nhello world; foo bar;\n')
    assert [f.severity for f in found if f.rule == "unparsed"].count("error") == 1
    assert not analyze_sql("hello world; foo bar", "mysql").compatible
    # one unknown statement among real ones: its effect is unknown, so it blocks unless told to warn
    assert not analyze_sql("FROBNICATE x; ALTER TABLE t ADD COLUMN c int;", "postgresql").compatible
    assert analyze_sql("FROBNICATE x; ALTER TABLE t ADD COLUMN c int;", "postgresql", on_undetermined="warn").compatible
