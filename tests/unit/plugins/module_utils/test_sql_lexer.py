from __future__ import annotations

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._sql.lexer import SplitError, split_statements


def texts(sql, dialect):
    return [(s.line, s.text) for s in split_statements(sql, dialect)]


def test_simple_statements_keep_their_start_lines_and_drop_comment_only_parts():
    sql = "-- header\nCREATE TABLE a (x int);\n\n/* c */ INSERT INTO a VALUES (1);\n-- trailing\n"
    assert texts(sql, "postgresql") == [(2, "CREATE TABLE a (x int)"), (4, "INSERT INTO a VALUES (1)")]


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
def test_semicolons_inside_strings_and_comments_do_not_split(dialect):
    sql = "INSERT INTO t VALUES ('a;b', 'it''s;');\n/* x; y */ SELECT 1 -- no; split\n;\nSELECT 2"
    got = texts(sql, dialect)
    assert [pair[0] for pair in got] == [1, 2, 4]
    assert got[0][1] == "INSERT INTO t VALUES ('a;b', 'it''s;')"
    assert got[2][1] == "SELECT 2"


def test_mysql_delimiter_regions_and_backslash_escapes():
    sql = (
        "INSERT INTO t VALUES ('back\\'slash;');\n"
        "DELIMITER $$\n"
        "CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND$$\n"
        "DELIMITER ;\n"
        "# hash comment; here\n"
        "SELECT `we;ird` FROM t;\n"
        "/*!40101 SET NAMES utf8mb4 */;\n"
    )
    got = texts(sql, "mysql")
    assert got == [
        (1, "INSERT INTO t VALUES ('back\\'slash;')"),
        (3, "CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT 2;\nEND"),
        (10, "SELECT `we;ird` FROM t"),
        (11, "/*!40101 SET NAMES utf8mb4 */"),
    ]


def test_mysql_double_dash_needs_a_space():
    assert texts("SELECT 1--1;\nSELECT 2;", "mysql") == [(1, "SELECT 1--1"), (2, "SELECT 2")]


def test_postgresql_dollar_quotes_escape_strings_nested_comments_and_begin_atomic():
    sql = (
        "DO $body$ BEGIN RAISE NOTICE 'x;'; END $body$;\n"
        "SELECT E'it\\'s;';\n"
        "/* outer /* inner; */ still; */ SELECT 3;\n"
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN true THEN 1 END;\n  SELECT 2;\nEND;\n"
        "SELECT $1;"
    )
    got = texts(sql, "postgresql")
    assert [pair[0] for pair in got] == [1, 2, 3, 4, 9]
    assert got[0][1] == "DO $body$ BEGIN RAISE NOTICE 'x;'; END $body$"
    assert got[2][1] == "SELECT 3"
    assert got[3][1].endswith("SELECT 2;\nEND")


def test_sqlite_trigger_bodies_stay_whole():
    sql = "CREATE TABLE a (x int);\nCREATE TRIGGER tr AFTER INSERT ON a BEGIN\n  UPDATE a SET x = 1;\n  SELECT 1;\nEND;\nSELECT [odd;name] FROM a;"
    got = texts(sql, "sqlite")
    assert [pair[0] for pair in got] == [1, 2, 6]
    assert got[1][1].startswith("CREATE TRIGGER") and got[1][1].endswith("END")


def test_goose_statement_blocks_are_one_statement():
    sql = (
        "-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS 'select 1; select 2' LANGUAGE sql;\n"
        "SELECT 1;\n-- +goose StatementEnd\nSELECT 3;\n"
    )
    got = texts(sql, "postgresql")
    assert got == [
        (3, "CREATE FUNCTION f() RETURNS int AS 'select 1; select 2' LANGUAGE sql;\nSELECT 1"),
        (6, "SELECT 3"),
    ]


@pytest.mark.parametrize(
    "sql,dialect,match",
    [
        ("SELECT 'open", "postgresql", "line 1: ' quoted text is never closed"),
        ("SELECT 1;\n/* open", "mysql", "line 2: /\\* comment is never closed"),
        ("DO $$ BEGIN", "postgresql", "dollar-quoted string \\$\\$ is never closed"),
        ("-- +goose StatementBegin\nSELECT 1;", "postgresql", "without a matching"),
    ],
)
def test_unterminated_input_is_an_error_with_a_line(sql, dialect, match):
    with pytest.raises(SplitError, match=match):
        split_statements(sql, dialect)


def test_first_words_skip_comments():
    (stmt,) = split_statements("/* x */ -- y\n  create  temporary table t (x int)", "mysql")
    assert stmt.first_words() == ["CREATE", "TEMPORARY", "TABLE"]
