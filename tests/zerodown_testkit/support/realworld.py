"""The real-world migration corpus (tests/corpus/realworld): loading, judging in directory order, scoring.

One place for the test that holds migration_check to its recall and precision and for the benchmark that prints
the same figures beside squawk's and other parsers'. Each directory holds the SQL text of one project's
migration directory at one commit and a ``labels.yml`` with the source and, per file, a label (``safe`` or
``unsafe``, by docs/architecture.md (migration rules)) and the reason. A file is judged as the pending one, with every file before it
in the runner's order replayed as its history, as the migrate role does.

Two kinds of directory: those the engine has been tuned on (a regression check for real shapes), and those of a
fresh measurement, labelled and committed before the engine was first run on them, whose ``source`` names the
measurement (``measurement: issue-26``). The figures of the two are never mixed.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import yaml

from ansible_collections.zerodown.deploy.plugins.module_utils._migrations import discover
from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import Catalog, analyze_sql

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "realworld"
EVERY = "*"  # directories(EVERY): tuned and fresh alike
TUNED = None  # directories(TUNED): those without a ``measurement`` in their source
ISSUE_26 = "issue-26"  # the second fresh measurement (projects never used before: ory/kratos, atuinsh/atuin)


class Case:
    __slots__ = ("directory", "dialect", "name", "path", "text", "label", "why")

    def __init__(self, directory: Path, dialect: str, name: str, path: Path, text: str, label: str, why: str) -> None:
        self.directory = directory
        self.dialect = dialect
        self.name = name
        self.path = path
        self.text = text
        self.label = label
        self.why = why

    @property
    def unsafe(self) -> bool:
        return self.label == "unsafe"


def directories(measurement: Optional[str] = EVERY) -> List[Path]:
    """The corpus directories: every one (EVERY), the tuned ones (TUNED) or those of one fresh measurement."""
    found = sorted(p.parent for p in CORPUS.glob("*/*/labels.yml"))
    if measurement == EVERY:
        return found
    return [d for d in found if load(d)[0].get("measurement") == measurement]


def load(directory: Path) -> Tuple[dict, List[Case]]:
    """(source, cases in run order) of one directory."""
    meta = yaml.safe_load((directory / "labels.yml").read_text(encoding="utf-8"))
    dialect = meta["source"]["dialect"]
    cases = []
    for migration in discover(str(directory)):
        entry = meta["files"].get(migration.id)
        if entry is None:
            raise AssertionError("%s has no label in %s/labels.yml" % (migration.id, directory))
        cases.append(
            Case(directory, dialect, migration.id, Path(migration.path), migration.text, entry["label"], entry["why"])
        )
    return meta["source"], cases


def judge_directory(cases: List[Case], history: bool = True) -> Dict[str, object]:
    """Report per file name, each file judged after the ones before it (replayed) or alone."""
    catalog = Catalog()
    reports = {}
    for case in cases:
        pending = copy.deepcopy(catalog) if history else Catalog()
        reports[case.name] = analyze_sql(case.text, case.dialect, str(case.path), catalog=pending)
        analyze_sql(case.text, case.dialect, str(case.path), catalog=catalog, history=True)
    return reports


class Score:
    def __init__(self, name: str) -> None:
        self.name = name
        self.tp = self.fn = self.fp = self.tn = 0
        self.misses: List[str] = []
        self.false_alarms: List[str] = []

    def add(self, case: Case, blocked: bool, detail: str = "") -> None:
        label = "%s/%s %s" % (case.directory.relative_to(CORPUS), case.name, detail)
        if case.unsafe and blocked:
            self.tp += 1
        elif case.unsafe:
            self.fn += 1
            self.misses.append(label)
        elif blocked:
            self.fp += 1
            self.false_alarms.append(label)
        else:
            self.tn += 1

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    def line(self) -> str:
        return "%-28s files %3d (unsafe %3d)  recall %.3f  precision %.3f  misses %d  false alarms %d" % (
            self.name,
            self.tp + self.fn + self.fp + self.tn,
            self.tp + self.fn,
            self.recall,
            self.precision,
            self.fn,
            self.fp,
        )


def score_engine(
    history: bool = True, dialects: Optional[Tuple[str, ...]] = None, measurement: Optional[str] = EVERY
) -> Score:
    score = Score("migration_check" + (" + history" if history else " (file alone)"))
    for directory in directories(measurement):
        _source, cases = load(directory)
        if dialects and cases and cases[0].dialect not in dialects:
            continue
        reports = judge_directory(cases, history)
        for case in cases:
            report = reports[case.name]
            rules = sorted({f.rule for f in report.findings if f.blocking})
            score.add(case, not report.compatible, ",".join(rules))
    return score


# squawk's rules that are about style or robustness, not about the old version or locks
SQUAWK_STYLE_RULES = frozenset(
    (
        "prefer-robust-stmts",
        "require-timeout-settings",
        "require-lock-timeout",
        "require-statement-timeout",
        "prefer-bigint-over-int",
        "prefer-bigint-over-smallint",
        "prefer-identity",
        "prefer-text-field",
        "prefer-timestamptz",
        "prefer-timestamp-tz",  # squawk 2's name for it
        "ban-char-field",
        "prefer-big-int",
        "ban-concurrent-index-creation-in-transaction",
        "transaction-nesting",
        "syntax-error",
    )
)


def squawk_rules(squawk: str, paths: List[Path]) -> Dict[str, set]:
    """squawk's rule names per file path (one run over all files)."""
    proc = subprocess.run(
        [squawk, "--reporter", "json", "--no-error-on-unmatched-pattern", *[str(p) for p in paths]],
        capture_output=True,
        text=True,
        check=False,
    )
    rules: Dict[str, set] = {str(p): set() for p in paths}
    for violation in json.loads(proc.stdout or "[]"):
        rules.setdefault(violation["file"], set()).add(violation["rule_name"])
    return rules


def score_squawk(squawk: str, hazard_only: bool, measurement: Optional[str] = EVERY) -> Score:
    score = Score("squawk " + ("(hazard rules)" if hazard_only else "(any rule)"))
    cases = [c for d in directories(measurement) for c in load(d)[1] if c.dialect == "postgresql"]
    rules = squawk_rules(squawk, [c.path for c in cases])
    for case in cases:
        found = rules.get(str(case.path), set())
        if hazard_only:
            found = found - SQUAWK_STYLE_RULES
        score.add(case, bool(found), ",".join(sorted(found)))
    return score


def score_blocked(name: str, blocked: Callable[[Case], bool], dialects: Tuple[str, ...]) -> Score:
    """A score for any other verdict function (parser comparisons in bench/)."""
    score = Score(name)
    for directory in directories():
        for case in load(directory)[1]:
            if case.dialect in dialects:
                score.add(case, blocked(case))
    return score
