"""On the fleet, after test_rolling.py: a deploy run the way AWX / Automation Controller runs a
job (ansible-runner's Python API, a private data dir holding the example project examples/awx-project), and the
HTML deploy report of a real run opened in headless Chromium - one timeline row per host with its phases, and a
rolled-back run's report naming the cause. Then the same project run inside the execution environment image
(`make ee`) the way an execution node runs a job: `ansible-runner run --process-isolation --container-image`,
a deploy and a rollback. All under load: zero failed requests, zero retries/redispatches."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import ansible_runner
import yaml
from zerodown_testkit.e2e.verifier import assert_no_failed_requests, current_on, deploy_under_load
from zerodown_testkit.fleet import core
from zerodown_testkit.support import ee
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


# -- the same project inside the execution environment image ---------------------------------------------------


def ee_deploy(run, facts, tmp_path, image, host_vars=None, extra_vars=None):
    """The example project's deploy.yml in the image, under load: (job, load report).

    What the job gets is what AWX would give it: the project (with the team's hooks in it, named relative to the
    playbook), a static inventory of the fleet with the scenario's group variables, the machine credential as
    env/ssh_key (never a key file on the controller), and the fleet's release tarballs and host keys mounted where
    the inventory names them (an AWX project would fetch its artifacts from a URL).
    """
    spec = core.load_spec(facts["fleet_name"])
    hosts = json.loads(spec.inventory.read_text().split("\n", 1)[1])
    fleet_vars = hosts["all"]["vars"]
    del fleet_vars["ansible_ssh_private_key_file"]
    # the credential comes from ssh-agent, which IdentitiesOnly would ignore
    fleet_vars["ansible_ssh_common_args"] = fleet_vars["ansible_ssh_common_args"].replace("-o IdentitiesOnly=yes", "")
    scenario = Path(__file__).resolve().parents[1]
    job_vars = {"zerodown_hook_%s" % hook.stem: "hooks/%s" % hook.name for hook in (scenario / "hooks").glob("*.yml")}
    job_vars.update(extra_vars or {})
    files = {
        "hosts.json": json.dumps(hosts),
        "group_vars/all/00-scenario.yml": (scenario / "group_vars" / "all.yml").read_text(),
        "group_vars/all/10-job.yml": yaml.safe_dump(job_vars),
    }
    for name, variables in (host_vars or {}).items():
        files["host_vars/%s.yml" % name] = yaml.safe_dump(variables)
    project = tmp_path / "project-with-hooks"
    shutil.copytree(PROJECT, project)
    shutil.copytree(scenario / "hooks", project / "hooks")
    mounts = ["%s:%s:ro" % (path, path) for path in (spec.state / "releases", spec.known_hosts)]
    with run.under_load(facts["fleet_lb_url"], facts["fleet_haproxy_admin"], facts["fleet_haproxy_backend"]) as load:
        job = ee.runner_job(tmp_path / "job", image, project, "deploy.yml", files, spec.key, {}, mounts=mounts)
    return job, load.report


def ee_report(job, tmp_path, name):
    """The HTML report the callback wrote inside the container, found through the path it printed."""
    printed = report_path(job.stdout)
    assert printed.startswith("/runner/artifacts/%s/zerodown-reports/" % job.artifacts.name), printed
    report = job.host_path(printed)
    assert only_report(report.parent) == report
    return report, open_report(report, tmp_path / name)


def test_the_execution_environment_image_deploys_the_fleet_as_an_execution_node_runs_a_job(
    run, facts, app_names, host, tmp_path, ee_image
):
    bootstrap_v1(run, facts)
    job, load = ee_deploy(run, facts, tmp_path, ee_image)
    assert job.status == "successful" and job.rc == 0, job.output[-2000:] + job.stdout[-3000:]
    assert_no_failed_requests(load)
    assert {name: current_on(host, name) for name in app_names} == {name: "v2" for name in app_names}

    events = job.events
    plays = [e["event_data"].get("play", "") for e in events if e["event"] == "playbook_on_play_start"]
    for part in DEPLOY_PLAYS:
        assert any(part in p for p in plays), (part, plays)
    failed = [e for e in events if e["event"] in ("runner_on_failed", "runner_on_unreachable")]
    assert not [e for e in failed if not e["event_data"].get("ignore_errors")], failed[:3]
    # the hooks of the project ran, found from the playbook's directory inside the container
    tasks = {e["event_data"].get("task", "") for e in events if e["event"] == "runner_on_ok"}
    assert {"Record hook before_stage", "Record hook after_deploy"} <= tasks, sorted(tasks)

    stats = next(e for e in events if e["event"] == "playbook_on_stats")
    artifacts = stats["event_data"].get("artifact_data") or {}
    assert artifacts["zerodown_outcome"] == "succeeded", artifacts
    assert set(artifacts["zerodown_hosts"].values()) == {"v2"}
    tally = artifacts["zerodown_failed_requests"]
    assert tally["measured"] is True and tally["count"] == 0 and tally["requests"] > 0, tally

    report, view = ee_report(job, tmp_path, "ee-deploy.png")
    assert json.loads(report.with_suffix(".json").read_text())["summary"]["outcome"] == "succeeded"
    assert sorted(view.hosts()) == sorted(app_names)
    for name in app_names:
        assert HOST_PHASES <= set(view.phases(name)), (name, view.phases(name))
    assert view.cause() is None


def test_a_failing_release_rolls_back_inside_the_execution_environment(
    run, inventory, facts, app_names, host, tmp_path, ee_image
):
    last = app_names[-1]
    bootstrap_v1(run, facts)
    run.remove_release(inventory, last, "v2")  # not live any more: the never-ready artifact is staged as v2
    never_ready = "/var/lib/zerodown-fleet/%s/releases/demoapp-v2-never-ready.tar.gz" % facts["fleet_name"]
    job, load = ee_deploy(
        run,
        facts,
        tmp_path,
        ee_image,
        host_vars={last: {"zerodown_artifact": never_ready}},
        extra_vars={"zerodown_ready_timeout": 10},
    )
    assert job.status == "failed" and job.rc == 2, job.output[-2000:] + job.stdout[-3000:]
    assert "failed and was rolled back (rollback completed)" in job.stdout
    assert_no_failed_requests(load)
    assert {name: current_on(host, name) for name in app_names} == {name: "v1" for name in app_names}
    stats = next(e for e in job.events if e["event"] == "playbook_on_stats")
    assert stats["event_data"]["artifact_data"]["zerodown_outcome"] == "rolled_back"
    view = ee_report(job, tmp_path, "ee-rolled-back.png")[1]
    cause = view.cause()
    assert cause and last in cause and "ready" in cause, cause
    assert "rollback" in set().union(*(view.phases(name) for name in app_names))
    run.remove_release(inventory, last, "v2")
