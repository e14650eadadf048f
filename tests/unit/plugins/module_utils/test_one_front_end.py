"""One SQL front end: migration_check judges exactly the statements migration_apply runs, file by file.

Every spec-corpus file goes through both paths: the checker's (``analyze_sql``, which reports the line span of each
top-level statement it judged) and the applier's (``file_statements``, what ``migration_apply`` sends to the
database). The two must cut every file the same way, or refuse it the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._migrate import MigrateError, file_statements
from ansible_collections.zerodown.deploy.plugins.module_utils._migrations import MigrationFile
from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import analyze_sql

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "corpus" / "migrations"
FILES = sorted(p for d in ("postgresql", "mysql", "sqlite") for p in (CORPUS / d).glob("*.sql"))


def _applied_spans(migration: MigrationFile, dialect: str):
    spans = []
    for st in file_statements(migration, dialect):
        spans.append((st.line, st.line + st.text.count("\n")))
    return spans


@pytest.mark.parametrize("path", FILES, ids=lambda p: "%s/%s" % (p.parent.name, p.name))
def test_check_and_apply_cut_every_corpus_file_the_same_way(path: Path) -> None:
    dialect = path.parent.name
    text = path.read_text(encoding="utf-8")
    migration = MigrationFile(str(path), text)
    report = analyze_sql(text, dialect, path=path.name)
    try:
        applied = _applied_spans(migration, dialect)
    except MigrateError as exc:
        # the applier refuses the file: the checker must block it for the same reason, never pass it
        assert not report.compatible or report.contract, exc
        assert "unparsed" in {f.rule for f in report.findings if f.severity == "error"}, exc
        return
    assert report.statement_spans == applied


def test_the_corpus_is_all_there() -> None:
    assert len(FILES) >= 360


@pytest.mark.parametrize(
    ("dialect", "sql", "count"),
    [
        ("mysql", "CREATE PROCEDURE p()\nBEGIN\n  UPDATE t SET a = 1 WHERE id = 2;\n  SELECT 1;\nEND;\nCALL p();\n", 2),
        (
            "postgresql",
            "COPY c (code) FROM stdin;\nDE\nXX;DROP TABLE users;\n\\.\nALTER TABLE t ADD COLUMN c int;\n",
            2,
        ),
        (
            "postgresql",
            "-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS 'SELECT 1;' LANGUAGE sql;\n"
            "-- +goose StatementEnd\nSELECT 2;\n",
            2,
        ),
        ("sqlite", "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE u SET n = n + 1; END;\nSELECT 1;\n", 2),
    ],
)
def test_bodies_and_data_stay_one_statement_for_both(dialect: str, sql: str, count: int) -> None:
    migration = MigrationFile("0001_x.sql", sql)
    assert len(file_statements(migration, dialect)) == count
    assert len(analyze_sql(sql, dialect).statement_spans) == count
