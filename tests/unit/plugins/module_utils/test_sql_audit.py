"""The audit of every migration_check rule (issue 26): no rule reads what nothing knows as absent or harmless.

Made mechanically from the rules' own unsafe cases: those of ``sql_rules/test_<rule_id>.py`` (``UNSAFE``) and those
of the spec corpus (``tests/corpus/migrations/*/expected.yml``, ``rules:``). Each is judged again

- **alone**: without the history that created its objects (the files before it removed), as when a team adopts
  the collection mid-project or checks one new file: it must still block, by its rule or by a finding that says
  which fact nothing knows;
- **after a partial history**: an applied file that alters a table it did not create is replayed first, so the
  history does not start from an empty schema and proves nothing absent: the verdict must be the one it has alone;
- **with its history** (the cases that have one), also behind that partial file: the verdict must be the case's
  own.

Every rule id of the registry must have at least one audited case; the test names those that have none.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Dict, List, NamedTuple, Sequence, Set

import pytest
import yaml

from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.registry import RULES
from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import Catalog, analyze_sql

HERE = Path(__file__).resolve().parent
SPEC_CASES = HERE / "sql_rules"
CORPUS = HERE.parents[3] / "tests" / "corpus" / "migrations"

# the words of a finding that rests on a fact none of this file, the history and the live schema knows
UNKNOWN = "the live schema"
# an applied file that changes a table no replayed file created: the history does not start from an empty schema
PARTIAL = "ALTER TABLE zz_audit_older_table ADD COLUMN zz_audit_note text;"


class Case(NamedTuple):
    rule: str
    where: str
    dialect: str
    sql: str
    history: tuple
    # the rules it must block: a spec case its own rule; a corpus file the rules its expected.yml lists (alone:
    # ``without_history`` where it has a history)
    rules: tuple
    rules_alone: tuple


def _spec_cases() -> List[Case]:
    cases = []
    for path in sorted(SPEC_CASES.glob("test_*.py")):
        spec = importlib.util.spec_from_file_location("zz_audit_" + path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for i, entry in enumerate(module.UNSAFE):
            history = tuple(entry[2]) if len(entry) > 2 else ()
            where = "%s UNSAFE[%d]" % (path.name, i)
            cases.append(Case(module.RULE, where, entry[0], entry[1], history, (module.RULE,), (module.RULE,)))
    return cases


def _corpus_cases() -> List[Case]:
    cases = []
    for expected in sorted(CORPUS.glob("*/expected.yml")):
        dialect = expected.parent.name
        entries = yaml.safe_load(expected.read_text(encoding="utf-8")) or {}
        for name, entry in sorted(entries.items()):
            rules = tuple(sorted(entry.get("rules") or ()))
            if not rules or "waived" in entry:
                continue
            sql = (expected.parent / name).read_text(encoding="utf-8")
            history = (entry["history"],) if "history" in entry else ()
            alone = tuple(sorted(entry["without_history"])) if history else rules
            for rule in rules:
                cases.append(Case(rule, "corpus %s/%s" % (dialect, name), dialect, sql, history, rules, alone))
    return cases


CASES = _spec_cases() + _corpus_cases()
BY_RULE: Dict[str, List[Case]] = {}
for _case in CASES:
    BY_RULE.setdefault(_case.rule, []).append(_case)


def _findings(sql: str, dialect: str, history: Sequence[str]) -> List[Finding]:
    catalog = Catalog()
    for number, earlier in enumerate(history, 1):
        analyze_sql(earlier, dialect, "%03d_applied.sql" % number, catalog=catalog, history=True)
    report = analyze_sql(sql, dialect, "pending.sql", catalog=catalog)
    return [f for f in report.findings if f.blocking]


def _blocking(sql: str, dialect: str, history: Sequence[str]) -> Set[str]:
    return {f.rule for f in _findings(sql, dialect, history)}


def _audit(case: Case) -> List[str]:
    """What is wrong with the case's verdicts, in words (empty: it passes the audit)."""
    problems = []
    findings = _findings(case.sql, case.dialect, ())
    alone = {f.rule for f in findings}
    # alone, another rule may be the one that blocks, when its finding says which fact nothing knows (an SQLite
    # rebuild whose old definition is unknown is undetermined; a MySQL MODIFY from an unknown type a type change)
    says_unknown = any(UNKNOWN in f.message for f in findings)
    if not alone:
        problems.append("alone (no history) it passes")
    elif not set(case.rules_alone) <= alone and not says_unknown:
        problems.append("alone it blocks %s, not %s" % (sorted(alone), list(case.rules_alone)))
    partial = _blocking(case.sql, case.dialect, (PARTIAL,))
    if partial != alone:
        problems.append("after a partial history it blocks %s, alone %s" % (sorted(partial), sorted(alone)))
    if case.history:
        full = _blocking(case.sql, case.dialect, case.history)
        if not set(case.rules) <= full:
            problems.append("with its history it blocks %s, not %s" % (sorted(full), list(case.rules)))
        behind = _blocking(case.sql, case.dialect, (PARTIAL,) + case.history)
        if behind != full:
            problems.append(
                "with its history behind a partial one it blocks %s, not %s" % (sorted(behind), sorted(full))
            )
    return problems


def test_every_rule_has_an_audited_unsafe_case() -> None:
    missing = sorted(set(RULES) - set(BY_RULE))
    assert not missing, "rules with no unsafe case to audit (add one to sql_rules/test_<rule>.py): %s" % missing


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_rule_blocks_what_nothing_knows(rule: str) -> None:
    cases = BY_RULE.get(rule, [])
    assert cases, "%s has no unsafe case to audit" % rule
    failures = ["%s (%s): %s" % (c.where, c.dialect, "; ".join(p)) for c in cases for p in [_audit(c)] if p]
    assert not failures, "%d of %d cases of %s fail the audit:\n%s" % (
        len(failures),
        len(cases),
        rule,
        "\n".join(failures),
    )
