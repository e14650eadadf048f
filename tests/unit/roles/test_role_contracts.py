"""Every role has a public contract: what it reads is in meta/argument_specs.yml, with the default of
defaults/main.yml; what it reads from elsewhere is a documented output of the collection; no role reads a
private (_zerodown_*) fact that something else sets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parents[3] / "roles"
ROLES = sorted(p.name for p in ROLES_DIR.iterdir() if (p / "meta" / "argument_specs.yml").exists())
#: Documented outputs a role may read without declaring them: the plan fact (zerodown.deploy.deploy_plan) and
#: the staging result the release action sets (roles/release/README.md).
PUBLIC_FACTS = {"zerodown_plan", "zerodown_release_state"}
NAME = re.compile(r"\b(_?zerodown_[a-z0-9_]+)")


def specs(role):
    return yaml.safe_load((ROLES_DIR / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]


def defaults(role):
    path = ROLES_DIR / role / "defaults" / "main.yml"
    return yaml.safe_load(path.read_text()) or {} if path.exists() else {}


def facts_set(node):
    """Names a task list sets itself: set_fact keys and task/block vars (blocks, rescue and always included)."""
    found = set()
    if isinstance(node, list):
        for item in node:
            found |= facts_set(item)
    elif isinstance(node, dict):
        for key in ("ansible.builtin.set_fact", "set_fact"):
            if isinstance(node.get(key), dict):
                found |= {k for k in node[key] if k != "cacheable"}
        if isinstance(node.get("vars"), dict):
            found |= set(node["vars"])
        for key in ("block", "rescue", "always"):
            found |= facts_set(node.get(key))
    return found


def task_texts(role):
    return {p.name: p.read_text() for p in sorted((ROLES_DIR / role / "tasks").glob("*.yml"))}


ENTRY_POINTS = [(role, entry) for role in ROLES for entry in specs(role)]


def test_every_role_has_argument_specs():
    assert set(ROLES) == {p.name for p in ROLES_DIR.iterdir() if p.is_dir()}
    assert {"release", "rolling", "migrate"} <= set(ROLES)


@pytest.mark.parametrize("role, entry", ENTRY_POINTS, ids=["%s:%s" % e for e in ENTRY_POINTS])
def test_argument_spec_defaults_equal_the_role_defaults(role, entry):
    options = specs(role)[entry].get("options") or {}
    values = defaults(role)
    for name, spec in options.items():
        assert name.startswith("zerodown_"), (role, entry, name)
        assert spec.get("description"), (role, entry, name)
        if spec.get("required"):
            assert "default" not in spec and name not in values, (role, entry, name, "required with a default")
        else:
            assert name in values, (role, entry, name, "no default in defaults/main.yml")
            assert spec.get("default") == values[name], (role, entry, name)


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_documented(role):
    documented = set()
    for entry in specs(role).values():
        documented |= set(entry.get("options") or {})
    assert set(defaults(role)) <= documented


@pytest.mark.parametrize("role", ROLES)
def test_a_role_reads_only_its_documented_inputs_and_public_facts(role):
    documented = set()
    for entry in specs(role).values():
        documented |= set(entry.get("options") or {})
    texts = task_texts(role)
    own_vars = set(
        (yaml.safe_load((ROLES_DIR / role / "vars" / "main.yml").read_text()) or {})
        if (ROLES_DIR / role / "vars" / "main.yml").exists()
        else {}
    )
    defined = set(own_vars)
    for text in texts.values():
        defined |= set(re.findall(r"(?:register|loop_var|index_var):\s*(\w+)", text))
        defined |= facts_set(yaml.safe_load(text))
    vars_text = (ROLES_DIR / role / "vars" / "main.yml").read_text() if own_vars else ""
    referenced = set()
    for text in list(texts.values()) + [vars_text]:
        referenced |= set(NAME.findall(text))
    undeclared = sorted(referenced - documented - defined - PUBLIC_FACTS)
    assert undeclared == [], "%s reads %s without declaring them in meta/argument_specs.yml" % (role, undeclared)
    private = sorted(n for n in referenced if n.startswith("_zerodown_") and n not in defined)
    assert private == [], "%s reads private facts set elsewhere: %s" % (role, private)


@pytest.mark.parametrize("role", ROLES)
def test_the_readme_documents_the_entry_points(role):
    readme = (ROLES_DIR / role / "README.md").read_text()
    for entry in specs(role):
        if entry != "main":
            assert "`%s`" % entry in readme, (role, entry)
