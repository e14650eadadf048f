"""On the fleet, after test_rolling.py: a deploy run the way AWX / Automation Controller runs a
job (ansible-runner's Python API, a private data dir holding the example project examples/awx-project), and the
HTML deploy report of a real run opened in headless Chromium - one timeline row per host with its phases, and a
rolled-back run's report naming the cause. Both under load: zero failed requests, zero retries/redispatches."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import ansible_runner
from zerodown_testkit.e2e.verifier import assert_no_failed_requests, current_on, deploy_under_load
from zerodown_testkit.support.ansible_run import REPO
from zerodown_testkit.support.report_browser import open_report, report_env, report_path

PROJECT = REPO / "examples" / "awx-project"
DEPLOY_PLAYS = (
    "plan, lock, preflight",
    "stage the release",
    "strategy",
    "smoke test",
    "decommission",
    "ledger, unlock, summary",
)
# what the timeline of a rolling deploy shows for every host that moved
HOST_PHASES = {"stage", "drain", "stop", "switch", "start", "ready", "enable"}


def bootstrap_v1(run, facts):
    run.fleet_cli("bootstrap", "--release", "v1", name=facts["fleet_name"])


def only_report(directory: Path) -> Path:
    reports = sorted(directory.glob("*.html"))
    assert len(reports) == 1, reports
    assert reports[0].with_suffix(".json").exists()
    return reports[0]


def test_a_job_run_through_ansible_runner_with_the_example_project_deploys_and_reports(
    run, inventory, facts, app_names, host, tmp_path
):
    bootstrap_v1(run, facts)
    private = tmp_path / "job"
    shutil.copytree(PROJECT, private / "project")
    reports = tmp_path / "reports"
    # what a job template's settings and the execution environment give the job; no state on the controller
    # (ansible-runner adds these to its own environment, so the project's ansible.cfg must be named to beat the
    # verifier's ANSIBLE_CONFIG: AWX runs a job from the project directory and its ansible.cfg applies)
    envvars = dict(
        run.ansible_env(), ZERODOWN_REPORT_DIR=str(reports), ANSIBLE_CONFIG=str(private / "project" / "ansible.cfg")
    )
    for name in ("ANSIBLE_CALLBACK_PLUGINS", "ANSIBLE_STDOUT_CALLBACK", "ANSIBLE_CALLBACKS_ENABLED"):
        envvars.pop(name, None)
    with run.under_load(facts["fleet_lb_url"], facts["fleet_haproxy_admin"], facts["fleet_haproxy_backend"]) as load:
        job = ansible_runner.run(
            private_data_dir=str(private),
            project_dir=str(private / "project"),
            playbook="deploy.yml",
            inventory=inventory,
            envvars=envvars,
            quiet=True,
            timeout=900,
        )
    events = list(job.events)
    stdout = job.stdout.read()
    assert job.status == "successful" and job.rc == 0, stdout[-3000:]
    assert_no_failed_requests(load.report)
    assert {name: current_on(host, name) for name in app_names} == {name: "v2" for name in app_names}

    plays = [e["event_data"].get("play", "") for e in events if e["event"] == "playbook_on_play_start"]
    for part in DEPLOY_PLAYS:
        assert any(part in p for p in plays), (part, plays)
    failed = [e for e in events if e["event"] in ("runner_on_failed", "runner_on_unreachable")]
    assert not [e for e in failed if not e["event_data"].get("ignore_errors")], failed[:3]

    # set_stats: the summary as the job's artifacts (what AWX shows under the job's details)
    stats = next(e for e in events if e["event"] == "playbook_on_stats")
    artifacts = stats["event_data"].get("artifact_data") or {}
    assert artifacts["zerodown_outcome"] == "succeeded", artifacts
    assert artifacts["zerodown_release"] == "v2"
    assert set(artifacts["zerodown_hosts"].values()) == {"v2"}

    report = only_report(reports)
    assert report_path(stdout) == str(report)
    data = json.loads(report.with_suffix(".json").read_text())
    assert data["summary"]["outcome"] == "succeeded"
    view = open_report(report, tmp_path / "report.png")
    assert sorted(view.hosts()) == sorted(app_names)
    for name in app_names:
        assert HOST_PHASES <= set(view.phases(name)), (name, view.phases(name))
    assert view.cause() is None


def test_the_report_of_a_rolled_back_deploy_shows_the_cause(run, inventory, facts, app_names, host, tmp_path):
    last = app_names[-1]
    run.remove_release(inventory, last, "v2")
    bootstrap_v1(run, facts)
    never_ready = "/var/lib/zerodown-fleet/%s/releases/demoapp-v2-never-ready.tar.gz" % facts["fleet_name"]
    reports = tmp_path / "reports"
    result, load = deploy_under_load(
        run,
        inventory,
        facts,
        tmp_path,
        extra_vars={"zerodown_ready_timeout": 10},
        host_vars={last: {"zerodown_artifact": never_ready}},
        env=report_env(str(reports)),
    )
    assert not result.ok and "failed and was rolled back" in result.output
    assert_no_failed_requests(load)
    assert {name: current_on(host, name) for name in app_names} == {name: "v1" for name in app_names}
    report = only_report(reports)
    assert report_path(result.output) == str(report)
    view = open_report(report, tmp_path / "rolled-back.png")
    assert sorted(view.hosts()) == sorted(app_names)
    cause = view.cause()
    assert cause and last in cause and "ready" in cause, cause
    assert "rollback" in set().union(*(view.phases(name) for name in app_names))
    run.remove_release(inventory, last, "v2")
