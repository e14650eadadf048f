"""migration_check on real projects' migrations (tests/corpus/realworld): recall first, then precision.

Every file is labelled by docs/architecture.md (migration rules) with a reason (labels.yml beside it) and judged as the pending file
after the ones before it in its directory, replayed as history, as the migrate role does, or alone (``history:
false``: no earlier file, as when a team adopts the collection mid-project). The figures are printed (pytest -s,
or the failure message), with squawk's on the same PostgreSQL files beside them.

Two sets, never mixed: the directories the engine was tuned on (recall 1.00 and precision 0.95 with the
history, a regression check), and issue 26's fresh measurement (projects never used before, labels committed
before the engine's first run): recall 1.00 with each file alone, except the named known misses below.
"""

from __future__ import annotations

import os
import sys

from zerodown_testkit.support import realworld

SQUAWK = os.path.join(os.path.dirname(sys.executable), "squawk")

# Files of the issue-26 measurement that today's engine lets through when judged alone ("<dir>/<file>", as the
# score prints them). The three-valued catalog (issue 26) must empty this set: a fix is proven by removing its
# entry, and the test fails both when another file is missed and when a listed file is no longer missed.
# Empty at the first run (2026-12-07): the engine missed none of the 89 unsafe files, alone or with the history.
KNOWN_MISSES_ISSUE_26: frozenset = frozenset()


def test_the_corpus_is_large_varied_and_labelled() -> None:
    cases = [c for d in realworld.directories() for c in realworld.load(d)[1]]
    assert len(cases) >= 120
    assert {c.dialect for c in cases} == {"postgresql", "mysql", "sqlite"}
    assert sum(c.unsafe for c in cases) * 3 >= len(cases), "at least a third unsafe"
    for case in cases:
        assert case.label in ("safe", "unsafe") and case.why.strip(), case.name
    for directory in realworld.directories():
        source = realworld.load(directory)[0]
        assert source["repository"] and len(source["commit"]) == 40 and source["path"], directory


def test_the_issue_26_measurement_is_fresh_large_and_varied() -> None:
    tuned = {realworld.load(d)[0]["repository"] for d in realworld.directories(realworld.TUNED)}
    fresh = realworld.directories(realworld.ISSUE_26)
    assert {realworld.load(d)[0]["repository"] for d in fresh}.isdisjoint(tuned), "projects never used before"
    cases = [c for d in fresh for c in realworld.load(d)[1]]
    assert len(cases) >= 80
    assert {c.dialect for c in cases} == {"postgresql", "mysql", "sqlite"}
    assert sum(c.unsafe for c in cases) * 3 >= len(cases), "at least a third unsafe"


def _names(entries) -> set:
    return {entry.split(" ", 1)[0] for entry in entries}


def test_recall_and_precision_with_the_history() -> None:
    engine = realworld.score_engine(history=True, measurement=realworld.TUNED)
    alone = realworld.score_engine(history=False, measurement=realworld.TUNED)
    squawk_any = realworld.score_squawk(SQUAWK, hazard_only=False, measurement=realworld.TUNED)
    squawk_hazard = realworld.score_squawk(SQUAWK, hazard_only=True, measurement=realworld.TUNED)
    pg = realworld.score_engine(history=True, dialects=("postgresql",), measurement=realworld.TUNED)
    pg.name = "migration_check, PostgreSQL"
    lines = [s.line() for s in (engine, alone, pg, squawk_any, squawk_hazard)]
    lines += ["  missed: " + m for m in engine.misses] + ["  false alarm: " + f for f in engine.false_alarms]
    report = "\n".join(lines)
    print("\n" + report)
    assert engine.recall == 1.0, report
    assert engine.precision >= 0.95, report


def test_issue_26_fresh_projects_each_file_alone_and_with_the_history() -> None:
    """Recall 1.00 alone (the acceptance); precision printed against its targets (0.90 alone, 0.95 history)."""
    alone = realworld.score_engine(history=False, measurement=realworld.ISSUE_26)
    engine = realworld.score_engine(history=True, measurement=realworld.ISSUE_26)
    squawk_any = realworld.score_squawk(SQUAWK, hazard_only=False, measurement=realworld.ISSUE_26)
    squawk_hazard = realworld.score_squawk(SQUAWK, hazard_only=True, measurement=realworld.ISSUE_26)
    pg_alone = realworld.score_engine(history=False, dialects=("postgresql",), measurement=realworld.ISSUE_26)
    pg_alone.name = "alone, PostgreSQL only"
    pg = realworld.score_engine(history=True, dialects=("postgresql",), measurement=realworld.ISSUE_26)
    pg.name = "+ history, PostgreSQL only"
    lines = ["issue 26, projects never used before (targets: precision 0.90 alone, 0.95 with the history)"]
    lines += [s.line() for s in (alone, engine, pg_alone, pg, squawk_any, squawk_hazard)]
    for score in (alone, engine):
        lines += ["  %s missed: %s" % (score.name, m) for m in score.misses]
        lines += ["  %s false alarm: %s" % (score.name, f) for f in score.false_alarms]
    report = "\n".join(lines)
    print("\n" + report)
    missed = _names(alone.misses)
    assert missed <= KNOWN_MISSES_ISSUE_26, "missed, not a known miss: %s\n%s" % (
        missed - KNOWN_MISSES_ISSUE_26,
        report,
    )
    assert KNOWN_MISSES_ISSUE_26 <= missed, "no longer missed: remove from KNOWN_MISSES_ISSUE_26: %s" % (
        KNOWN_MISSES_ISSUE_26 - missed
    )
    assert alone.fn == len(KNOWN_MISSES_ISSUE_26), report  # recall 1.00 but for the named misses
    assert _names(engine.misses) <= KNOWN_MISSES_ISSUE_26, report
    assert engine.precision >= 0.95, report
