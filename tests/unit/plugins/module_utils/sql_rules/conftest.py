"""The cases of each migration_check rule, beside it: ``test_<rule_id>.py`` holds a few SQL texts it must block
(``UNSAFE``) and a few it must let through (``SAFE``), each judged by ``analyze_sql`` as the pending file after an
optional history (the files that already ran, replayed as the migrate role does)."""

from __future__ import annotations

from typing import Callable, Sequence, Set

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import Catalog, analyze_sql


def blocking_rules(sql: str, dialect: str, history: Sequence[str] = ()) -> Set[str]:
    catalog = Catalog()
    for number, earlier in enumerate(history, 1):
        analyze_sql(earlier, dialect, "%03d_history.sql" % number, catalog=catalog, history=True)
    report = analyze_sql(sql, dialect, "pending.sql", catalog=catalog)
    return {f.rule for f in report.findings if f.blocking}


@pytest.fixture
def judge() -> Callable[..., Set[str]]:
    return blocking_rules


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``case`` runs over the module's UNSAFE and SAFE lists: (dialect, sql) or (dialect, sql, history)."""
    if "case" not in metafunc.fixturenames:
        return
    module = metafunc.module
    cases, ids = [], []
    for verdict in ("UNSAFE", "SAFE"):
        for i, entry in enumerate(getattr(module, verdict)):
            dialect, sql = entry[0], entry[1]
            history = entry[2] if len(entry) > 2 else ()
            cases.append((module.RULE, verdict == "UNSAFE", dialect, sql, tuple(history)))
            ids.append("%s-%s-%d" % (verdict.lower(), dialect, i))
    metafunc.parametrize("case", cases, ids=ids)


@pytest.fixture
def verdict(judge: Callable[..., Set[str]]) -> Callable[[tuple], None]:
    def check(case: tuple) -> None:
        rule, unsafe, dialect, sql, history = case
        rules = judge(sql, dialect, history)
        if unsafe:
            assert rule in rules, "%s should block (%s): %s; got %s" % (rule, dialect, sql, sorted(rules))
        else:
            assert rule not in rules, "%s should not block (%s): %s" % (rule, dialect, sql)

    return check
