"""The README's deploy-variables table is generated from the argument specs and stays equal to them."""

from __future__ import annotations

import re
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
        (REPO / "roles" / "migrate" / "meta" / "argument_specs.yml", ("argument_specs", "main")),
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


def _quick_start() -> str:
    readme = (REPO / "README.md").read_text()
    assert readme.index("## Two commands") < readme.index("## Quick start"), "make demo / make test stay first"
    return readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]


def test_the_quick_start_uses_documented_variables_and_the_default_groups():
    """Its inventory has the groups the deploy reads by default, its variables are rows of the table."""
    readme = (REPO / "README.md").read_text()
    table = readme.split("<!-- variables:start", 1)[1].split("<!-- variables:end -->", 1)[0]
    documented = dict(re.findall(r"^\| `(zerodown_[a-z0-9_]+)` \|(.*)$", table, re.MULTILINE))
    blocks = re.findall(r"```(\w+)\n(.*?)```", _quick_start(), re.DOTALL)
    inventory, variables = (yaml.safe_load(text) for kind, text in blocks if kind == "yaml")
    [command] = [text for kind, text in blocks if kind == "sh"]
    groups = inventory["all"]["children"]
    for kind in ("app", "lb", "db"):
        default = documented["zerodown_%s_hosts" % kind].split("|")[0].strip().strip("`")
        assert groups[default]["hosts"], kind
    used = set(variables) | set(re.findall(r"-e (zerodown_[a-z0-9_]+)=", command))
    assert used <= set(documented), sorted(used - set(documented))
    required = {name for name, row in documented.items() if "**required**" in row}
    assert required <= used, sorted(required - used)
    assert "ansible-playbook zerodown.deploy.deploy -i inventory.yml -e @shop.yml" in command
