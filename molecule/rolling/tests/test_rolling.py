"""The rolling strategy, after converge (v1 -> v2 under load, idempotent re-run).

The tests run in file order and build on each other: the fleet state after
converge, then a rollback on demand, a release that never becomes ready in the
last batch, a deploy refused while another runs, a slow-stopping release with
pruning, and a stale lock taken over. Every deploy and rollback runs under
load: zero failed requests and zero HAProxy retries/redispatches each time.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from zerodown_testkit.e2e.verifier import (
    assert_no_failed_requests,
    assert_tally_matches_the_load,
    current_on,
    deploy_under_load,
    lb_states,
)
from zerodown_testkit.e2e.verifier import ledger as ledger_file

from ansible_collections.zerodown.deploy.plugins.module_utils._plan import HOOKS

APP = "demoapp"
BASE = "/opt/demoapp"


def releases_on(host, name):
    out = host(name).run("ls -1 %s/releases", BASE)
    assert out.rc == 0, out.stderr
    return sorted(x for x in out.stdout.split() if not x.startswith("."))


def remove_release(run, inventory, hosts, release):
    """Test set-up: make room for another artifact under a release id a host already holds."""
    run.remove_release(inventory, hosts, release)


# -- after converge: v2 everywhere ------------------------------------------------------------------


def test_every_host_runs_v2_from_the_same_release_id(host, app_names):
    assert {name: current_on(host, name) for name in app_names} == {name: "v2" for name in app_names}
    for name in app_names:
        assert host(name).file(BASE + "/current/VERSION").content_string.strip() == "v2"
        assert host(name).service("demoapp").is_running
        assert host(name).service("demoapp").is_enabled


def test_layout_symlinks_ownership_permissions(host, app_names):
    for name in app_names:
        h = host(name)
        current = h.file(BASE + "/current")
        assert current.is_symlink and current.linked_to == BASE + "/releases/v2"
        # the release is root's, read-only to the app; shared/ is the app's
        release = h.file(BASE + "/releases/v2")
        assert release.is_directory and release.user == "root" and release.group == "root"
        assert release.mode == 0o755
        start = h.file(BASE + "/releases/v2/bin/start")
        assert start.user == "root" and start.mode == 0o755
        assert h.file(BASE + "/releases/v2/release.json").mode == 0o644
        assert h.file(BASE + "/releases/v2/.zerodown-release.json").exists
        shared = h.file(BASE + "/shared")
        assert shared.is_directory and shared.user == "demoapp" and shared.group == "demoapp"


def test_unit_runs_current_with_graceful_stop(host, app_names):
    for name in app_names:
        unit = host(name).file("/etc/systemd/system/demoapp.service")
        assert unit.user == "root" and unit.mode == 0o644
        text = unit.content_string
        assert "WorkingDirectory=%s/current" % BASE in text
        assert 'ExecStart=/bin/sh -c "exec bin/start"' in text
        assert "KillSignal=SIGTERM" in text and "TimeoutStopSec=" in text
        assert "User=demoapp" in text
        lines = text.splitlines()
        for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes"):
            assert line in lines, (name, line)
        assert "ReadWritePaths=%s/shared" % BASE in lines


def test_the_app_runs_unprivileged_and_cannot_write_its_own_release(host, app_names):
    for name in app_names:
        h = host(name)
        account = h.user("demoapp")
        assert account.exists and account.uid != 0
        pid = h.run("systemctl show -p MainPID --value demoapp")
        assert pid.rc == 0 and int(pid.stdout) > 0, (name, pid.stdout, pid.stderr)
        # the service's main process (python3, exec'd from bin/start), not the shell that started it
        status = h.run("cat /proc/%s/status", pid.stdout.strip())
        assert status.rc == 0, status.stderr
        fields = dict(line.split(":", 1) for line in status.stdout.splitlines() if ":" in line)
        assert fields["Uid"].split()[:2] == [str(account.uid)] * 2, (name, fields["Uid"])  # real and effective
        assert fields["Uid"].split()[0] != "0"
        assert fields["NoNewPrivs"].strip() == "1", (name, "NoNewPrivileges=yes is in force")
        for path in ("VERSION", "bin/start", "app/demoapp.py", "release.json", "."):
            denied = h.run("runuser -u demoapp -- test -w %s", "%s/current/%s" % (BASE, path))
            assert denied.rc != 0, (name, "the app can write its own release", path)
        assert h.run("runuser -u demoapp -- test -r %s/current/app/demoapp.py", BASE).rc == 0
        assert h.run("runuser -u demoapp -- test -w %s/shared", BASE).rc == 0, (name, "shared/ is not writable")
        # In the service's own mount namespace (ProtectSystem=strict, ReadWritePaths=shared/) the release is on a
        # read-only mount - access(W_OK) is refused (EROFS) even to root there - and shared/ is not.
        inside = "nsenter --target %s --mount -- test -w %%s" % pid.stdout.strip()
        assert h.run(inside, BASE + "/current/VERSION").rc != 0, (name, "the release is writable in the unit")
        assert h.run(inside, "/etc").rc != 0, (name, "ProtectSystem=strict is not in force")
        assert h.run(inside, BASE + "/shared").rc == 0, (name, "ReadWritePaths does not cover shared/")


def test_lock_released_and_ledger_records_the_deploy(host):
    lb = host("lb1")
    assert not lb.file("/var/lib/zerodown/demoapp/deploy.lock").exists
    assert lb.file("/var/lib/zerodown/demoapp").mode == 0o700
    ledger = json.loads(lb.file("/var/lib/zerodown/demoapp/ledger.json").content_string)
    assert ledger["release"] == "v2" and ledger["outcome"] == "succeeded"
    assert {h["previous"] for h in ledger["hosts"].values()} == {"v1"}
    assert [b["batch"] for b in ledger["batches"]] == [1, 2, 3, 4]


HOOKS_LOG = "/var/tmp/zerodown-hooks.log"


def hook_lines(host, name):
    return host(name).file(HOOKS_LOG).content_string.splitlines()


def test_one_hook_of_each_kind_ran_on_every_app_host(host, app_names):
    for name in app_names:
        lines = hook_lines(host, name)
        for hook in (h for h in HOOKS if h != "on_rollback"):
            assert "%s v2" % hook in lines, (name, hook, lines)
        # per-host hooks ran in the order of the batch
        assert lines.index("before_switch v2") < lines.index("after_switch v2") < lines.index("before_allow_traffic v2")


# -- rollback on demand ----------------------------------------------------------------------------


def test_rollback_on_demand_returns_every_host_to_v1_under_load(run, inventory, facts, host, app_names, tmp_path):
    before = lb_states(host, facts["fleet_haproxy_backend"])
    # keep-alive clients sending as fast as answers come: both cores busy through the rollback
    result, report = deploy_under_load(run, inventory, facts, tmp_path, playbook="rollback", saturate=True)
    assert result.ok, result.output[-3000:]
    assert_no_failed_requests(report)
    assert {name: current_on(host, name) for name in app_names} == {name: "v1" for name in app_names}
    assert lb_states(host, facts["fleet_haproxy_backend"]) == before
    for name in app_names:
        assert "on_rollback v2" in hook_lines(host, name)


# -- a release that never becomes ready, in the LAST batch ------------------------------------------


def test_never_ready_in_the_last_batch_rolls_every_batch_back(run, inventory, facts, host, app_names, tmp_path):
    last = app_names[-1]
    # Same release id everywhere; only the last host gets the variant whose /health/ready never answers 200.
    remove_release(run, inventory, last, "v2")
    never_ready = "/var/lib/zerodown-fleet/%s/releases/demoapp-v2-never-ready.tar.gz" % facts["fleet_name"]
    before = lb_states(host, facts["fleet_haproxy_backend"])
    result, report = deploy_under_load(
        run,
        inventory,
        facts,
        tmp_path,
        extra_vars={"zerodown_ready_timeout": 10},
        host_vars={last: {"zerodown_artifact": never_ready}},
        saturate=True,
    )
    assert not result.ok
    assert "failed and was rolled back" in result.output and last in result.output
    assert "not ready" in result.output
    assert_no_failed_requests(report)
    assert {name: current_on(host, name) for name in app_names} == {name: "v1" for name in app_names}
    assert lb_states(host, facts["fleet_haproxy_backend"]) == before
    assert not host("lb1").file("/var/lib/zerodown/demoapp/deploy.lock").exists
    ledger = json.loads(host("lb1").file("/var/lib/zerodown/demoapp/ledger.json").content_string)
    assert ledger["outcome"] == "rolled_back" and last in ledger["cause"]
    assert {h["status"] for h in ledger["hosts"].values()} == {"rolled_back"}
    remove_release(run, inventory, last, "v2")


def test_a_release_that_exits_at_start_is_known_broken_in_seconds_from_its_unit(
    run, inventory, facts, host, app_names, tmp_path
):
    """v2-crash exits with status 3 at every start: systemd says so long before the 60 s readiness timeout."""
    before = lb_states(host, facts["fleet_haproxy_backend"])
    result, report = deploy_under_load(
        run, inventory, facts, tmp_path, extra_vars={"zerodown_release": "v2-crash", "zerodown_ready_timeout": 60}
    )
    assert not result.ok and "failed and was rolled back (rollback completed)" in result.output
    assert "demoapp.service is" in result.output and "exited with status 3" in result.output
    assert "fatal: DEMOAPP_SECRET_KEY is not set" in result.output, "the journal's last lines name the cause"
    gave_up = [float(x) for x in re.findall(r"gave up after ([0-9.]+)s of the 60s timeout", result.output)]
    assert gave_up and max(gave_up) < 10, gave_up
    assert_no_failed_requests(report)
    assert {name: current_on(host, name) for name in app_names} == {name: "v1" for name in app_names}
    assert lb_states(host, facts["fleet_haproxy_backend"]) == before
    ledger = json.loads(host("lb1").file("/var/lib/zerodown/demoapp/ledger.json").content_string)
    assert ledger["outcome"] == "rolled_back" and "exited with status 3" in ledger["cause"]
    print("exits at start: known broken after %.1f s of the 60 s readiness timeout" % max(gave_up))
    remove_release(run, inventory, "app", "v2-crash")  # staged on every host; the pruning test counts releases


# -- a failing lifecycle hook ------------------------------------------------------------------------


def test_a_failing_hook_rolls_back_like_any_other_failure(run, inventory, facts, host, app_names, tmp_path):
    second = app_names[1]
    before = lb_states(host, facts["fleet_haproxy_backend"])
    result, report = deploy_under_load(
        run, inventory, facts, tmp_path, host_vars={second: {"zerodown_test_failing_hook": "after_switch"}}
    )
    assert not result.ok
    assert "failed and was rolled back" in result.output
    assert "hook after_switch failed on purpose on %s" % second in result.output
    assert_no_failed_requests(report)
    assert {name: current_on(host, name) for name in app_names} == {name: "v1" for name in app_names}
    assert lb_states(host, facts["fleet_haproxy_backend"]) == before
    ledger = json.loads(host("lb1").file("/var/lib/zerodown/demoapp/ledger.json").content_string)
    assert ledger["outcome"] == "rolled_back" and "after_switch" in ledger["cause"]


@pytest.mark.parametrize("hook", ["after_stage", "before_switch"])
def test_a_hook_whose_include_fails_stops_the_deploy_and_rolls_back(
    run, inventory, facts, host, app_names, tmp_path, hook
):
    """An include that fails names no task (ansible_failed_task is undefined in the rescue): the deploy once ended
    "unchanged" with exit code 0 when every host's stage hook could not be included."""
    broken = tmp_path / ("%s.yml" % hook)
    broken.write_text("- name: The team's own steps\n  ansible.builtin.include_tasks: /nonexistent/steps.yml\n")
    before = lb_states(host, facts["fleet_haproxy_backend"])
    result, report = deploy_under_load(
        run, inventory, facts, tmp_path, extra_vars={"zerodown_hook_%s" % hook: str(broken)}
    )
    assert not result.ok and "failed and was rolled back (rollback completed)" in result.output, result.output[-3000:]
    assert "a task failed without a name (a task file that could not be included or parsed" in result.output
    assert_no_failed_requests(report)
    assert {name: current_on(host, name) for name in app_names} == {name: "v1" for name in app_names}
    assert lb_states(host, facts["fleet_haproxy_backend"]) == before
    # stopped while staging, the run moved no host: its ledger is kept beside the last real deploy's
    record = ledger_file(host, "ledger.last-noop.json" if hook == "after_stage" else "ledger.json")
    assert record["outcome"] == "rolled_back" and "a task failed without a name" in record["cause"], record


def test_a_hook_that_would_not_load_is_refused_before_any_change(run, inventory, facts, host, app_names, tmp_path):
    """An unknown module in an included file stops ansible-playbook outright (exit code 4, lock held, a batch
    drained) when the include is reached: the plan loads every hook first."""
    broken = tmp_path / "before_switch.yml"
    broken.write_text("- name: Warm the cache\n  no.such.module_here: {}\n")
    before = lb_states(host, facts["fleet_haproxy_backend"])
    result, report = deploy_under_load(
        run, inventory, facts, tmp_path, extra_vars={"zerodown_hook_before_switch": str(broken)}
    )
    assert not result.ok and "nothing was changed" in result.output
    assert "zerodown_hook_before_switch=%s cannot be loaded as a task file" % broken in result.output
    assert_no_failed_requests(report)
    assert {name: current_on(host, name) for name in app_names} == {name: "v1" for name in app_names}
    assert lb_states(host, facts["fleet_haproxy_backend"]) == before
    assert not host("lb1").file("/var/lib/zerodown/demoapp/deploy.lock").exists


# -- a release that goes bad while it rolls out -------------------------------------------------------


BENCH_CALLBACK = Path(__file__).resolve().parents[3] / "bench" / "rolling" / "callback"


def test_a_release_going_bad_mid_rollout_is_stopped_before_the_third_batch(
    run, inventory, facts, host, app_names, tmp_path
):
    """v2-5xx-at-5s passes readiness, then answers half its requests with 5xx 5 s after it started: the analysis
    before a later batch moves judges the moved batches against the servers not moved yet and rolls back, long
    before the bake window (none here) would."""
    release, third = "v2-5xx-at-5s", app_names[2]
    before = lb_states(host, facts["fleet_haproxy_backend"])
    running = {name: current_on(host, name) for name in app_names}
    results = tmp_path / "results.jsonl"
    result, report = deploy_under_load(
        run,
        inventory,
        facts,
        tmp_path,
        extra_vars={"zerodown_release": release},
        env={"ANSIBLE_CALLBACK_PLUGINS": str(BENCH_CALLBACK), "ZERODOWN_BENCH_RESULTS": str(results)},
    )
    assert not result.ok and "failed and was rolled back" in result.output, result.output[-3000:]
    assert "rollout analysis fail: moved servers (new release) error rate" in result.output, result.output[-6000:]
    assert {name: current_on(host, name) for name in app_names} == running
    assert lb_states(host, facts["fleet_haproxy_backend"]) == before
    ledger = json.loads(host("lb1").file("/var/lib/zerodown/demoapp/ledger.json").content_string)
    assert ledger["outcome"] == "rolled_back" and "rollout analysis fail" in ledger["cause"], ledger["cause"]
    judged = [s for s in ledger["steps"] if str(s.get("name", "")).startswith("rollout before batch")]
    assert judged and judged[-1]["verdict"] == "fail", judged
    assert app_names[0] in judged[-1]["canary_servers"] and third not in judged[-1]["canary_servers"]
    # the hosts' own record: v2-5xx-at-5s started on the first host, never on the third or the fourth
    started = {
        name: int(
            host(name)
            .run("journalctl -u demoapp -o cat --no-pager | grep -c 'demoapp %s listening' || true", release)
            .stdout.strip()
            or 0
        )
        for name in app_names
    }
    assert started[app_names[0]] >= 1 and started[third] == 0 and started[app_names[3]] == 0, started
    # what was served meanwhile: the bad release's own 500s, nothing refused or dropped, as the deploy counted them
    assert all(f["status"] == 500 for f in report.failures), report.failures[:5]
    assert_tally_matches_the_load(result, ledger, report)
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    seconds = [line["task_seconds"] for line in lines if "Judge what moved so far" in line["task"]]
    print(
        "rollout analysis: %d failed of %d requests; stopped before batch %s; %s; the analysis task took %s s"
        % (report.failed, report.requests, judged[-1]["name"].rsplit(" ", 1)[-1], judged[-1]["reason"], seconds)
    )
    remove_release(run, inventory, "app", release)  # staged on every host; the pruning test counts releases


# -- one deploy at a time --------------------------------------------------------------------------


def test_second_deploy_is_refused_with_the_holders_details(run, inventory, facts, host, app_names, tmp_path):
    lock = host("lb1").file("/var/lib/zerodown/demoapp/deploy.lock")
    with run.under_load(facts["fleet_lb_url"], facts["fleet_haproxy_admin"], facts["fleet_haproxy_backend"]) as load:
        first = run.start_playbook("deploy", [inventory], log=tmp_path / "first.log")
        deadline = time.monotonic() + 120
        while not lock.exists:
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the first deploy never took the lock"
            time.sleep(0.2)
        holder = json.loads(lock.content_string)
        second = run.playbook("deploy", [inventory], args=["-e", "zerodown_owner=second-operator"])
        assert first.wait(timeout=900) == 0, (tmp_path / "first.log").read_text()[-3000:]
    assert not second.ok
    assert "is held by owner %r" % holder["owner"] in second.output
    assert "release 'v2'" in second.output and "expires in" in second.output and "age " in second.output
    assert_no_failed_requests(load.report)
    assert {name: current_on(host, name) for name in app_names} == {name: "v2" for name in app_names}


# -- a release that stops slowly; pruning ----------------------------------------------------------


def test_slow_stopping_release_loses_no_request_and_old_releases_are_pruned(
    run, inventory, facts, host, app_names, tmp_path
):
    result, report = deploy_under_load(run, inventory, facts, tmp_path, extra_vars={"zerodown_release": "v2-slow-stop"})
    assert result.ok, result.output[-3000:]
    assert_no_failed_requests(report)
    for name in app_names:
        assert current_on(host, name) == "v2-slow-stop"
        # keep 2: the live release and the one before it; v1 is gone
        assert releases_on(host, name) == ["v2", "v2-slow-stop"]


# -- a stale lock ----------------------------------------------------------------------------------


def test_stale_lock_is_taken_over_and_logged(run, inventory, facts, host, tmp_path):
    stale = {"app": APP, "state": "acquired", "run_id": "crashed-run", "owner": "crashed-ci", "release": "v9", "ttl": 1}
    cmd = [
        run.ansible_bin("ansible"),
        "-i",
        inventory,
        "lb1",
        "-m",
        "zerodown.deploy.deploy_lock",
        "-a",
        json.dumps(stale),
    ]
    out = run.subprocess.run(cmd, env=run.ansible_env(), capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    time.sleep(1.5)
    result = run.playbook("deploy", [inventory], args=["-e", "zerodown_release=v2-slow-stop"])
    assert result.ok, result.output[-3000:]
    audit = [json.loads(x) for x in host("lb1").file("/var/lib/zerodown/demoapp/audit.log").content_string.splitlines()]
    takeovers = [e for e in audit if e["event"] == "takeover"]
    assert takeovers and takeovers[-1]["previous"]["owner"] == "crashed-ci"
    assert takeovers[-1]["previous"]["run_id"] == "crashed-run"
    assert not host("lb1").file("/var/lib/zerodown/demoapp/deploy.lock").exists


# -- the first deploy onto a host that never ran the application ------------------------------------


def test_first_deploy_on_a_fresh_host_fails_cleanly_then_bootstraps_it(
    run, inventory, facts, host, app_names, tmp_path
):
    fresh = app_names[-1]
    backend = facts["fleet_haproxy_backend"]
    out = host("lb1").run("echo 'set server %s/%s state maint' | socat stdio /run/haproxy/admin.sock", backend, fresh)
    assert out.rc == 0, out.stderr
    wipe = host(fresh).run(
        "systemctl stop demoapp && systemctl disable --quiet demoapp && rm -f /etc/systemd/system/demoapp.service"
        " && systemctl daemon-reload && rm -rf %s/current %s/releases %s/.zerodown-release.json",
        BASE,
        BASE,
        BASE,
    )
    assert wipe.rc == 0, wipe.stderr
    never_ready = "/var/lib/zerodown-fleet/%s/releases/demoapp-v2-never-ready.tar.gz" % facts["fleet_name"]
    before = lb_states(host, backend)

    failed, report = deploy_under_load(
        run,
        inventory,
        facts,
        tmp_path,
        extra_vars={"zerodown_ready_timeout": 10},
        host_vars={fresh: {"zerodown_artifact": never_ready}},
    )
    assert not failed.ok and "failed and was rolled back" in failed.output
    assert_no_failed_requests(report)
    assert not host(fresh).file(BASE + "/current").exists
    assert not host(fresh).file(BASE + "/releases/v2").exists
    assert not host(fresh).service("demoapp").is_running
    assert lb_states(host, backend) == before  # the fresh server stayed out (maint)
    assert all(current_on(host, name) == "v2-slow-stop" for name in app_names[:-1])

    ok, report = deploy_under_load(run, inventory, facts, tmp_path)
    assert ok.ok, ok.output[-3000:]
    assert_no_failed_requests(report)
    assert {name: current_on(host, name) for name in app_names} == {name: "v2" for name in app_names}
    assert lb_states(host, backend)[fresh][0] == "0"  # admin state ready: in the pool


# -- each role alone, in a user's own playbook, with only its documented inputs ---------------------

ROLE_ALONE = """
- name: A user's playbook that uses the roles alone
  hosts: app
  gather_facts: false
  vars:
    zerodown_app_name: demoapp
    zerodown_release: "{{ release }}"
    zerodown_artifact: "/var/lib/zerodown-fleet/{{ fleet_name }}/releases/demoapp-{{ release }}.tar.gz"
    zerodown_exec_start: bin/start
    zerodown_app_user: demoapp
    zerodown_app_group: demoapp
    zerodown_environment_file: /opt/demoapp/shared/demoapp.env
    zerodown_app_port: "{{ fleet_app_port }}"
    zerodown_health_path: /health/ready
    zerodown_version_header: X-App-Version
    zerodown_lb: {provider: haproxy, socket: /run/haproxy/admin.sock, backend: "{{ fleet_haproxy_backend }}"}
    zerodown_batch_size: 50%
    ansible_python_interpreter: /usr/bin/python3
  tasks:
    - name: Stage only (role release)
      ansible.builtin.include_role:
        name: zerodown.deploy.release
        tasks_from: stage
    - name: What staging reports
      ansible.builtin.debug:
        msg: "STATE {{ inventory_hostname }} {{ zerodown_release_state | to_json }}"
    - name: Roll out (role rolling), or roll back (its rollback entry point)
      ansible.builtin.include_role:
        name: zerodown.deploy.rolling
        tasks_from: "{{ entry }}"
"""


def test_the_roles_alone_roll_out_and_back_under_load(run, inventory, facts, host, app_names, tmp_path):
    play = tmp_path / "user-playbook.yml"
    play.write_text(ROLE_ALONE)
    backend = facts["fleet_haproxy_backend"]
    before = lb_states(host, backend)
    # only the documented inputs: the scenario's group_vars spell the load balancer the older way, blank them
    extra = {"release": "v2-slow-stop", "entry": "main"}
    extra.update(dict.fromkeys(("zerodown_lb_provider", "zerodown_haproxy_socket", "zerodown_haproxy_backend"), ""))
    with run.under_load(facts["fleet_lb_url"], facts["fleet_haproxy_admin"], backend) as load:
        out = run.playbook(str(play), [inventory], args=["-e", json.dumps(extra)])
    assert out.ok, out.output[-3000:]
    assert_no_failed_requests(load.report)
    # what staging reported (printed as JSON inside the debug message, so its quotes are escaped)
    assert re.search(r"STATE app1 .*previous\W+v2\W", out.output) and re.search(r"needs_switch\W+true", out.output)
    assert {name: current_on(host, name) for name in app_names} == {name: "v2-slow-stop" for name in app_names}
    ledger = json.loads(host("lb1").file("/var/lib/zerodown/demoapp/ledger.json").content_string)
    assert [b["batch"] for b in ledger["batches"]] == [1, 2]  # 50 % of 4 hosts: the plan made by the role

    with run.under_load(facts["fleet_lb_url"], facts["fleet_haproxy_admin"], backend) as load:
        back = run.playbook(str(play), [inventory], args=["-e", json.dumps(dict(extra, entry="rollback"))])
    assert back.ok, back.output[-3000:]
    assert_no_failed_requests(load.report)
    assert {name: current_on(host, name) for name in app_names} == {name: "v2" for name in app_names}
    assert lb_states(host, backend) == before
