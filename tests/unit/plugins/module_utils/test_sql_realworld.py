"""migration_check on real projects' migrations (tests/corpus/realworld): recall first, then precision.

Every file is labelled by docs/architecture.md (migration rules) with a reason (labels.yml beside it) and judged as the pending file
after the ones before it in its directory, replayed as history, as the migrate role does. The figures are printed
(pytest -s, or the failure message), with squawk's on the same PostgreSQL files beside them; the test fails below
recall 1.00 or precision 0.95.
"""

from __future__ import annotations

import os
import sys

from zerodown_testkit.support import realworld

SQUAWK = os.path.join(os.path.dirname(sys.executable), "squawk")


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


def test_recall_and_precision_with_the_history() -> None:
    engine = realworld.score_engine(history=True)
    alone = realworld.score_engine(history=False)
    squawk_any = realworld.score_squawk(SQUAWK, hazard_only=False)
    squawk_hazard = realworld.score_squawk(SQUAWK, hazard_only=True)
    pg = realworld.score_engine(history=True, dialects=("postgresql",))
    pg.name = "migration_check, PostgreSQL"
    lines = [s.line() for s in (engine, alone, pg, squawk_any, squawk_hazard)]
    lines += ["  missed: " + m for m in engine.misses] + ["  false alarm: " + f for f in engine.false_alarms]
    report = "\n".join(lines)
    print("\n" + report)
    assert engine.recall == 1.0, report
    assert engine.precision >= 0.95, report
