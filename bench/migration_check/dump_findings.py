"""Every verdict of migration_check's engine over every corpus the tests use, as one canonical JSON file.

Usage (from the repository root):
    .venv/bin/python bench/migration_check/dump_findings.py OUT.json

For a change to the reader that must keep every verdict (issue 26's split of ``_sql/reader.py``, issue 15's
before it): run it before and after, then ``cmp`` the two files. It records, per judged file, every finding
(rule, severity, waived, line, statement, message, remedy, rewrite), the report's verdict, statement spans and
rewrite, every event the reader emitted (its type and facts), and the catalog a directory's replay leaves. Cases:

  * the spec corpus (tests/corpus/migrations): each file alone, and after its ``history`` where it has one;
  * the real-world corpus (tests/corpus/realworld, tuned and issue-26 sets): each file alone and after every
    earlier file of its directory replayed as history;
  * the rewrite cases (zerodown_testkit.support.rewrite_cases): alone and after their setup;
  * the rule spec cases (tests/unit/plugins/module_utils/sql_rules, UNSAFE and SAFE): alone and after their
    history, as test_sql_audit does.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any, Dict, List

import yaml
from zerodown_testkit.support import realworld
from zerodown_testkit.support.rewrite_cases import CASES as REWRITE_CASES

from ansible_collections.zerodown.deploy.plugins.module_utils import _sql_safety
from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import Catalog, analyze_sql

ROOT = Path(__file__).resolve().parents[2]
SPEC_CORPUS = ROOT / "tests" / "corpus" / "migrations"
RULE_CASES = ROOT / "tests" / "unit" / "plugins" / "module_utils" / "sql_rules"

_events: List[Dict[str, Any]] = []


def _plain(value: Any) -> Any:
    """A JSON-ready, order-stable copy of catalog and event values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__dict__"):
        return {"__type__": type(value).__name__, **_plain(vars(value))}
    slots = [s for k in type(value).__mro__ for s in getattr(k, "__slots__", ())]
    if slots:
        return {"__type__": type(value).__name__, **_plain({s: getattr(value, s, None) for s in slots})}
    return value


def _record_events() -> None:
    """Wrap the analyzer's ``emit`` so that every event it sends to the rules is recorded."""
    analyzer = _sql_safety.Analyzer
    emit = analyzer.emit

    def recording(self, event):
        facts = {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name != "ctx"}
        _events.append({"type": type(event).__name__, **_plain(facts)})
        return emit(self, event)

    analyzer.emit = recording


def _judge(sql: str, dialect: str, path: str, catalog: Catalog, history: bool = False) -> Dict[str, Any]:
    del _events[:]
    report = analyze_sql(sql, dialect, path, catalog=catalog, history=history)
    return {
        "path": path,
        "history": history,
        "compatible": report.compatible,
        "contract": report.contract,
        "spans": [list(s) for s in report.statement_spans],
        "findings": [f.to_dict() for f in report.findings],
        "rewrite": report.rewrite,
        "events": list(_events),
    }


def _after(history: List[str], dialect: str) -> Catalog:
    catalog = Catalog()
    for number, earlier in enumerate(history, 1):
        analyze_sql(earlier, dialect, "%03d_applied.sql" % number, catalog=catalog, history=True)
    return catalog


def spec_corpus() -> Dict[str, Any]:
    out = {}
    for expected in sorted(SPEC_CORPUS.glob("*/expected.yml")):
        dialect = expected.parent.name
        entries = yaml.safe_load(expected.read_text(encoding="utf-8")) or {}
        for name in sorted(entries):
            text = (expected.parent / name).read_text(encoding="utf-8")
            key = "%s/%s" % (dialect, name)
            out[key + " alone"] = _judge(text, dialect, name, Catalog())
            if "history" in entries[name]:
                catalog = Catalog()
                out[key + " history-file"] = _judge(entries[name]["history"], dialect, "history.sql", catalog)
                out[key + " with-history"] = _judge(text, dialect, name, catalog)
                out[key + " catalog"] = _plain(catalog)
    return out


def realworld_corpus() -> Dict[str, Any]:
    out = {}
    for directory in realworld.directories(realworld.EVERY):
        _source, cases = realworld.load(directory)
        where = str(directory.relative_to(realworld.CORPUS))
        catalog = Catalog()
        for case in cases:
            key = "%s/%s" % (where, case.name)
            out[key + " alone"] = _judge(case.text, case.dialect, str(case.path.relative_to(ROOT)), Catalog())
            pending = copy.deepcopy(catalog)
            out[key + " with-history"] = _judge(case.text, case.dialect, str(case.path.relative_to(ROOT)), pending)
            out[key + " replay"] = _judge(case.text, case.dialect, str(case.path.relative_to(ROOT)), catalog, True)
        out[where + " catalog"] = _plain(catalog)
    return out


def rewrite_cases() -> Dict[str, Any]:
    out = {}
    for case in REWRITE_CASES:
        out[case.id + " alone"] = _judge(case.migration, case.dialect, "0002_change.sql", Catalog())
        catalog = Catalog()
        analyze_sql(case.setup, case.dialect, "0001_setup.sql", catalog=catalog, history=True)
        out[case.id + " with-history"] = _judge(case.migration, case.dialect, "0002_change.sql", catalog)
    return out


def rule_cases() -> Dict[str, Any]:
    out = {}
    for path in sorted(RULE_CASES.glob("test_*.py")):
        spec = importlib.util.spec_from_file_location("zz_dump_" + path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for kind in ("UNSAFE", "SAFE"):
            for i, entry in enumerate(getattr(module, kind, ())):
                dialect, sql = entry[0], entry[1]
                history = list(entry[2]) if len(entry) > 2 else []
                key = "%s %s[%d]" % (path.stem, kind, i)
                out[key + " alone"] = _judge(sql, dialect, "pending.sql", Catalog())
                if history:
                    out[key + " with-history"] = _judge(sql, dialect, "pending.sql", _after(history, dialect))
    return out


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    _record_events()
    dump = {
        "spec_corpus": spec_corpus(),
        "realworld": realworld_corpus(),
        "rewrite_cases": rewrite_cases(),
        "rule_cases": rule_cases(),
    }
    with open(argv[1], "w", encoding="utf-8") as handle:
        json.dump(dump, handle, indent=1, sort_keys=True, ensure_ascii=False)
        handle.write("\n")
    judged = sum(len(part) for part in dump.values())
    findings = sum(len(v.get("findings", ())) for part in dump.values() for v in part.values() if "findings" in v)
    events = sum(len(v.get("events", ())) for part in dump.values() for v in part.values() if "events" in v)
    print("%s: %d entries, %d findings, %d events" % (argv[1], judged, findings, events))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
