"""examples/awx-project: the project AWX syncs and a shell runs - its playbooks parse with the collection on the
collections path, its settings are the documented ones, and it sets only documented deploy variables (its
inventory's group_vars and its survey)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "examples" / "awx-project"
BIN = Path(sys.executable).parent
AWX_SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


def documented_variables() -> set[str]:
    """The deploy variables of the README's table (which a test keeps equal to the argument specs)."""
    readme = (REPO / "README.md").read_text()
    table = readme.split("<!-- variables:start", 1)[1].split("<!-- variables:end -->", 1)[0]
    return set(re.findall(r"^\| `(zerodown_[a-z0-9_]+)` \|", table, re.MULTILINE))


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / cmd[0]), *cmd[1:]], cwd=PROJECT, env=ansible_env(), capture_output=True, text=True, check=False
    )


def test_the_table_of_documented_variables_is_read():
    assert {"zerodown_release", "zerodown_strategy", "zerodown_batch_size", "zerodown_lb"} <= documented_variables()


@pytest.mark.parametrize("playbook", ["deploy.yml", "rollback.yml"])
def test_the_playbooks_pass_the_syntax_check(playbook):
    proc = run("ansible-playbook", "--syntax-check", playbook)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("playbook", "imported"), [("deploy.yml", "zerodown.deploy.deploy"), ("rollback.yml", "zerodown.deploy.rollback")]
)
def test_each_playbook_imports_the_collections_playbook(playbook, imported):
    [play] = yaml.safe_load((PROJECT / playbook).read_text())
    assert play["ansible.builtin.import_playbook"] == imported


def test_the_playbooks_see_the_inventory_groups_and_the_group_vars():
    proc = run("ansible-playbook", "--list-hosts", "deploy.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for host in ("app1", "app4", "lb1"):
        assert host in proc.stdout
    inventory = run("ansible-inventory", "--list")
    assert inventory.returncode == 0, inventory.stderr
    groups = json.loads(inventory.stdout)
    for group in ("app", "lb", "db", "blue", "green"):
        assert groups[group]["hosts"], group
    host = run("ansible-inventory", "--host", "app1", "--playbook-dir", ".")
    assert host.returncode == 0, host.stderr
    assert json.loads(host.stdout)["zerodown_app_name"] == "shop"


def test_the_group_vars_use_only_documented_variables():
    documented = documented_variables()
    for path in sorted((PROJECT / "inventory" / "group_vars").rglob("*.yml")):
        names = set(yaml.safe_load(path.read_text()) or {})
        assert names, path
        assert names <= documented, (path.name, sorted(names - documented))


def test_the_settings_are_the_documented_ones():
    proc = run("ansible-config", "dump", "--only-changed", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    settings = {item["name"]: item["value"] for item in json.loads(proc.stdout) if "name" in item}
    assert settings["CALLBACKS_ENABLED"] == ["zerodown.deploy.deploy_report"]
    assert settings["DEFAULT_HOST_LIST"] == [str(PROJECT / "inventory" / "hosts.yml")]
    ssh = run("ansible-config", "dump", "--only-changed", "--format", "json", "-t", "connection")
    assert ssh.returncode == 0, ssh.stderr
    [connection] = [plugin["ssh"] for plugin in json.loads(ssh.stdout) if "ssh" in plugin]
    ssh_settings = {item["name"]: item["value"] for item in connection}
    assert ssh_settings["pipelining"] is True
    assert "-o ServerAliveInterval=5 -o ServerAliveCountMax=3" in ssh_settings["ssh_args"]


def test_the_collection_requirement_names_this_collection():
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    requirements = yaml.safe_load((PROJECT / "collections" / "requirements.yml").read_text())
    names = [entry["name"] for entry in requirements["collections"]]
    assert names == [galaxy["repository"] + ".git"], names


def test_the_survey_asks_what_changes_per_deploy_and_only_documented_variables():
    survey = json.loads((PROJECT / "survey.json").read_text())
    assert survey["name"] and survey["description"]
    documented = documented_variables()
    variables = []
    for question in survey["spec"]:
        assert {"question_name", "variable", "type", "required"} <= set(question), question
        assert question["type"] in AWX_SURVEY_TYPES, question
        assert question["variable"] in documented, question["variable"]
        variables.append(question["variable"])
    assert len(variables) == len(set(variables))
    assert {"zerodown_strategy", "zerodown_release", "zerodown_artifact", "zerodown_batch_size"} <= set(variables)
    [strategy] = [q for q in survey["spec"] if q["variable"] == "zerodown_strategy"]
    spec = yaml.safe_load((REPO / "playbooks" / "vars" / "deploy_variables.yml").read_text())
    choices = spec["playbook_variables"]["options"]["zerodown_strategy"]["choices"]
    assert strategy["type"] == "multiplechoice" and strategy["choices"] == choices
    assert strategy["default"] in choices
