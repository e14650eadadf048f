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
