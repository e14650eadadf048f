"""The README's deploy-variables table is generated from the argument specs and stays equal to them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_the_readme_table_is_the_one_the_specs_generate():
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "variables-table.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_the_plan_defaults_are_the_documented_ones():
    """deploy_plan runs before any role, so it keeps its own defaults: they must be the documented ones."""
    from ansible_collections.zerodown.deploy.plugins.module_utils._plan import DEFAULTS

    documented = {}
    for path, keys in (
        (REPO / "playbooks" / "vars" / "deploy_variables.yml", ("playbook_variables",)),
        (REPO / "roles" / "rolling" / "meta" / "argument_specs.yml", ("argument_specs", "main")),
        (REPO / "roles" / "blue_green" / "meta" / "argument_specs.yml", ("argument_specs", "main")),
        (REPO / "roles" / "canary" / "meta" / "argument_specs.yml", ("argument_specs", "main")),
        (REPO / "roles" / "release" / "meta" / "argument_specs.yml", ("argument_specs", "main")),
    ):
        node = yaml.safe_load(path.read_text())
        for key in keys:
            node = node[key]
        for name, spec in node["options"].items():
            documented.setdefault(name, spec.get("default"))
    for name, value in DEFAULTS.items():
        assert name in documented, name
        assert documented[name] == value, (name, documented[name], value)


def test_every_playbook_variable_is_read_somewhere():
    spec = yaml.safe_load((REPO / "playbooks" / "vars" / "deploy_variables.yml").read_text())["playbook_variables"][
        "options"
    ]
    sources = "".join(p.read_text() for p in (REPO / "playbooks").rglob("*.yml"))
    sources += (REPO / "plugins" / "module_utils" / "_plan.py").read_text()
    sources += (REPO / "plugins" / "action" / "deploy_plan.py").read_text()
    for name in spec:
        assert name in sources or name.replace("zerodown_hook_", "") in sources, name
