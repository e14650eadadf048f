"""zerodown.deploy.deploy_report enabled the documented way (ANSIBLE_CALLBACKS_ENABLED) on a real
ansible-playbook run on localhost: the path is printed at the end, both files are written, nothing secret or
no_log gets in, and a report that cannot be written is a warning, never a failed run."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from zerodown_testkit.support.ansible_run import base_env
from zerodown_testkit.support.report_browser import ReportView, report_env, report_path

SECRET = "hunter2-not-in-the-report"

PLAYBOOK = """
- name: A tiny deploy-shaped run
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Start the ledger
      zerodown.deploy.deploy_ledger:
        app: shop
        path: "{{ state_dir }}"
        state: started
        run_id: run-1
        release: v2
        plan: {db_password: "%(secret)s"}
    - name: Check a migration
      zerodown.deploy.migration_check:
        sql: "ALTER TABLE users DROP COLUMN email;"
        dialect: postgresql
      # blocked on purpose: the run goes on so that the report records the finding; the test asserts that the check
      # did block (the recap's ignored=1 and the report's compatible=false), so this cannot hide a check that passes
      ignore_errors: true
    - name: Something secret
      ansible.builtin.debug:
        msg: "%(secret)s"
      no_log: true
    - name: Finish the ledger
      zerodown.deploy.deploy_ledger:
        app: shop
        path: "{{ state_dir }}"
        state: finished
        run_id: run-1
        outcome: rolled_back
        cause: "app3: not ready"
""" % {"secret": SECRET}


def run_playbook(tmp_path, report_dir):
    book = tmp_path / "play.yml"
    book.write_text(PLAYBOOK)
    env = base_env(
        **report_env(str(report_dir)),
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
    )
    cmd = [sys.executable.replace("python", "ansible-playbook"), "-i", "localhost,", "-c", "local", str(book)]
    cmd += ["-e", "state_dir=%s" % (tmp_path / "state")]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_the_report_of_a_real_run(tmp_path):
    done = run_playbook(tmp_path, tmp_path / "reports")
    assert done.returncode == 0, done.stdout + done.stderr
    html = tmp_path / "reports" / "shop-run-1.html"
    assert done.stdout.rstrip().splitlines()[-1] == "deploy report: %s" % html
    assert report_path(done.stdout) == str(html)
    data = json.loads((tmp_path / "reports" / "shop-run-1.json").read_text())
    assert data["summary"]["outcome"] == "rolled_back" and data["summary"]["cause"] == "app3: not ready"
    assert [f["rule"] for f in data["migration"]["findings"]] == ["drop_column"]
    assert data["migration"]["compatible"] is False
    assert re.search(r"^localhost\s+:.*\bignored=1\b", done.stdout, re.M), done.stdout
    assert data["summary"]["censored_results"] == 1
    page = html.read_text()
    assert ReportView(page).cause() == "app3: not ready"
    for text in (page, json.dumps(data)):
        assert SECRET not in text and "module_args" not in text


def test_a_report_that_cannot_be_written_does_not_fail_the_run(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    done = run_playbook(tmp_path, blocker / "reports")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "deploy report: v2_playbook_on_stats failed" in out and "the run is not affected" in out
    assert "Traceback" not in out
