"""The migration corpus, file by file: tests/corpus/migrations/<dialect>/*.sql against expected.yml.

Each case is judged on its own (a fresh catalog, as if every table not created in the file exists and is used by
the old release). Coverage: every rule in RULES has an unsafe and a safe case in each dialect it applies to.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import RULES, Catalog, analyze_sql

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "corpus" / "migrations"
DIALECTS = ("postgresql", "mysql", "sqlite")


def _expected(dialect: str) -> dict:
    path = CORPUS / dialect / "expected.yml"
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def _cases():
    for dialect in DIALECTS:
        for name, entry in sorted(_expected(dialect).items()):
            yield pytest.param(dialect, name, entry, id="%s/%s" % (dialect, name))


@pytest.mark.parametrize(("dialect", "name", "entry"), list(_cases()))
def test_corpus_case(dialect: str, name: str, entry: dict) -> None:
    path = CORPUS / dialect / name
    text = path.read_text(encoding="utf-8")
    catalog = Catalog()
    if "history" in entry:
        # the prior schema, as the earlier files of the migrations directory would have left it
        analyze_sql(entry["history"], dialect, path="history.sql", catalog=catalog)
        alone = analyze_sql(text, dialect, path=name)
        assert sorted({f.rule for f in alone.findings if f.blocking}) == sorted(entry["without_history"]), name
    report = analyze_sql(text, dialect, path=name, catalog=catalog)
    blocking = sorted({f.rule for f in report.findings if f.severity == "error" and not f.waived})
    waived = sorted({f.rule for f in report.findings if f.waived})
    warnings = sorted({f.rule for f in report.findings if f.severity == "warning" and not f.waived})
    detail = "\n".join("  %d %s %s %s" % (f.line, f.rule, f.severity, f.message) for f in report.findings)
    assert blocking == sorted(entry.get("rules") or []), "%s: blocking rules differ (why: %s)\n%s" % (
        name,
        entry.get("why"),
        detail,
    )
    assert report.compatible is bool(entry["compatible"]), name
    if "waived" in entry:
        assert waived == sorted(entry["waived"] or []), "%s: waived rules differ\n%s" % (name, detail)
    if "warnings" in entry:
        assert warnings == sorted(entry["warnings"] or []), "%s: warnings differ\n%s" % (name, detail)
    for f in report.findings:
        assert f.file == name and f.line >= 1 and f.message and f.remedy, f


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_sql_file_has_an_entry_and_back(dialect: str) -> None:
    files = {p.name for p in (CORPUS / dialect).glob("*.sql")}
    entries = set(_expected(dialect))
    assert files - entries == set(), "files without an expected.yml entry"
    assert entries - files == set(), "expected.yml entries without a file"


def test_corpus_size() -> None:
    total = sum(len(list((CORPUS / d).glob("*.sql"))) for d in DIALECTS)
    assert total >= 120, total


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_coverage(rule: str) -> None:
    """Every rule has an unsafe case and a safe twin in every dialect it applies to."""
    if rule in ("unparsed", "undetermined", "invalid_waiver"):
        # engine-level findings, not hazards: one case of each anywhere is enough
        seen = [
            e
            for d in DIALECTS
            for e in _expected(d).values()
            if rule in (e.get("rules") or []) + (e.get("warnings") or [])
        ]
        assert seen, "no corpus case shows %s" % rule
        return
    for dialect in RULES[rule].dialects:
        entries = _expected(dialect).values()
        unsafe = [e for e in entries if rule in (e.get("rules") or [])]
        safe = [e for e in entries if rule in (e.get("safe_for") or []) and not e.get("rules")]
        assert unsafe, "%s has no unsafe case in %s" % (rule, dialect)
        assert safe, "%s has no safe twin in %s" % (rule, dialect)
