"""The rules package: one file per rule under plugins/module_utils/_sql/rules, each registered, each documented."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._sql.registry import LOCK_ONLY_RULES, RULES
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import DIALECTS

RULES_DIR = Path(__file__).resolve().parents[4] / "plugins" / "module_utils" / "_sql" / "rules"
FILES = sorted(p.stem for p in RULES_DIR.glob("*.py") if p.stem != "__init__")


def test_every_rule_file_is_registered_and_every_rule_has_its_file() -> None:
    assert FILES == sorted(RULES)


@pytest.mark.parametrize("name", FILES)
def test_a_rule_file_holds_its_id_dialects_why_and_remedy(name: str) -> None:
    module = importlib.import_module("ansible_collections.zerodown.deploy.plugins.module_utils._sql.rules." + name)
    rule = module.RULE
    assert rule.id == name
    assert rule.dialects and set(rule.dialects) <= set(DIALECTS)
    assert rule.summary and rule.remedy.rstrip(")").endswith(".")
    assert module.__doc__ and name in module.__doc__


def test_lock_only_rules_are_the_lock_duration_hazards() -> None:
    assert LOCK_ONLY_RULES == {
        "create_index_blocking",
        "drop_index_blocking",
        "add_constraint_validating",
        "add_foreign_key_blocking",
        "add_column_volatile_default",
        "table_rewrite",
    }


def test_every_event_has_a_rule_and_every_rule_decides_in_its_check() -> None:
    import dataclasses

    from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events
    from ansible_collections.zerodown.deploy.plugins.module_utils._sql.registry import LISTENERS

    kinds = [
        c
        for c in vars(events).values()
        if isinstance(c, type) and issubclass(c, events.Event) and c is not events.Event
    ]
    assert kinds and all(dataclasses.is_dataclass(c) for c in kinds)
    assert sorted(c.__name__ for c in kinds) == sorted(c.__name__ for c in LISTENERS)
    for name in FILES:
        module = importlib.import_module("ansible_collections.zerodown.deploy.plugins.module_utils._sql.rules." + name)
        assert callable(module.check) and isinstance(module.EVENTS, tuple)


class _State:
    """The least a rule's check() may ask of the reader (rule.State), for calling a rule on its own."""

    dialect = "postgresql"
    no_transaction = False
    on_undetermined = "block"

    def small(self, table):
        return False

    def per(self, source):
        return " (per %s)" % source if source else ""

    def describe(self, source):
        return source

    def finding(self, rule, event, message="", severity="error"):
        return (rule.id, message or rule.summary, severity)


def test_a_rule_is_a_function_of_the_event_and_the_state() -> None:
    from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events
    from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rules import alter_type, drop_index_blocking

    state = _State()
    drop = events.DropIndex(statement="DROP INDEX i", line=3, table="t", names=("i",))
    assert drop_index_blocking.check(drop, state)[0] == "drop_index_blocking"
    drop.concurrently = True
    assert drop_index_blocking.check(drop, state) is None
    widen = events.AlterType(
        statement="ALTER TABLE t ALTER COLUMN c TYPE text",
        line=1,
        table="t",
        column="c",
        old_type="varchar(10)",
        new_type="text",
        old_type_source="history:001.sql",
        change="safe",
    )
    assert alter_type.check(widen, state) is None
    widen.change, widen.new_type = "change", "integer"
    rule, message, _severity = alter_type.check(widen, state)
    assert rule == "alter_type" and "was varchar(10), per history:001.sql" in message
