"""deploy_plan (an action plugin) through real Ansible on localhost: what it reads on the controller itself."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from zerodown_testkit.support.ansible_run import ansible_env


def plan_on_localhost(tmp_path: Path, **variables) -> dict:
    artifact = tmp_path / "shop-v2.tar.gz"
    artifact.write_bytes(b"release bytes")
    deploy = {
        "zerodown_app_name": "shop",
        "zerodown_release": "v2",
        "zerodown_artifact": str(artifact),
        "zerodown_artifact_checksum": "sha256:" + hashlib.sha256(b"release bytes").hexdigest(),
        "zerodown_exec_start": "bin/start",
        "zerodown_lb": {"backend": "app"},
        "zerodown_app_hosts": "app1",
        "zerodown_lb_hosts": "localhost",
    }
    deploy.update(variables)
    (tmp_path / "vars.json").write_text(json.dumps(deploy))
    cmd = [str(Path(sys.executable).parent / "ansible"), "localhost", "-i", "localhost,app1,", "-c", "local"]
    cmd += ["-m", "zerodown.deploy.deploy_plan", "-e", "@%s" % (tmp_path / "vars.json")]
    proc = subprocess.run(
        cmd, env=ansible_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    line = next(line for line in proc.stdout.splitlines() if line.startswith("localhost | "))
    result = json.loads(line.split(" => ", 1)[1])
    result["failed"] = line.startswith("localhost | FAILED!")  # the oneline callback says it there
    assert "Traceback" not in proc.stdout + proc.stderr
    return result


HOOKS = {
    "an unknown module": (
        "- name: Warm the cache\n  no.such.module_here: {}\n",
        "task 'Warm the cache': couldn't resolve module/action 'no.such.module_here'",
    ),
    "broken YAML": ("- name: [unclosed\n", ""),
    "not a task list": ("name: a mapping, not a list\n", "it is not a list of tasks"),
    "an unknown module in a block's rescue": (
        "- block:\n    - ansible.builtin.ping:\n  rescue:\n    - name: Undo\n      shop.tools.undo: {}\n",
        "task 'Undo': couldn't resolve module/action 'shop.tools.undo'",
    ),
}


@pytest.mark.parametrize("case", sorted(HOOKS))
def test_a_hook_that_would_not_load_is_refused_by_the_plan(tmp_path, case):
    """Found in the execution environment: an include that fails names no task, and an unknown module in an
    included file stops ansible-playbook outright (exit code 4, the lock held) when the hook's point is reached."""
    text, reason = HOOKS[case]
    hook = tmp_path / "before_switch.yml"
    hook.write_text(text)
    result = plan_on_localhost(tmp_path, zerodown_hook_before_switch=str(hook))
    assert result["failed"] is True, result
    [problem] = [p for p in result["problems"] if "zerodown_hook_before_switch" in p]
    assert problem.startswith("zerodown_hook_before_switch=%s cannot be loaded as a task file: " % hook)
    assert reason in problem


def test_a_hook_of_known_tasks_relative_to_the_working_directory_is_planned_with_its_absolute_path(tmp_path):
    hook = tmp_path / "hooks" / "after_stage.yml"
    hook.parent.mkdir()
    hook.write_text(
        "- name: Note it\n  ansible.builtin.debug:\n    msg: staged\n"
        "- block:\n    - ansible.builtin.include_tasks: other.yml\n  rescue:\n    - ansible.builtin.meta: noop\n"
    )
    # relative to the directory ansible-playbook runs in (the project's, under AWX)
    result = plan_on_localhost(tmp_path, zerodown_hook_after_stage="hooks/after_stage.yml")
    assert result["failed"] is False, result.get("msg")
    assert result["plan"]["hooks"]["after_stage"] == str(hook)
