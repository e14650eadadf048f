"""nginx as the load balancer, after converge (v1 -> v2 through nginx under load, rolling, idempotent re-run).

The tests run in file order and build on each other: the fleet after converge,
a rollback on demand, a release that never becomes ready in the LAST batch,
rolled back, then v1 -> v2 as a canary (steps judged from nginx's access log)
and two blue-green deploys (adopted, then the other way). Every deploy and rollback runs under load through nginx
(``fleet_nginx_url``): nginx has no retry counters to read, and with
``proxy_next_upstream off`` it hides no failure, so the proof is zero failed
requests, for quick requests and for slow ones in flight across the reloads.
"""

from __future__ import annotations

import contextlib
import json
import time

from zerodown_testkit.e2e.verifier import current_on, ledger, measured_steps
from zerodown_testkit.fleet import core
from zerodown_testkit.support.loadgen import LoadGenerator

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import nginx as _nginx

BASE = "/opt/demoapp"
STATE = "/var/lib/zerodown/demoapp"


def servers_file(host, facts):
    return host("lb1").file(facts["fleet_nginx_servers_file"]).content_string


def nginx_processes(host, settle=10.0):
    """(master pid, sorted worker pids) of nginx on lb1, once no old worker is still finishing (up to ``settle`` s)."""
    master = int(host("lb1").file(core.NGINX_PID_FILE).content_string.strip())
    deadline = time.monotonic() + settle
    while True:
        out = host("lb1").check_output("ps -o pid=,args= --ppid %s", str(master))
        if "shutting down" not in out or time.monotonic() > deadline:
            return master, sorted(int(line.split()[0]) for line in out.splitlines() if line.strip())
        time.sleep(0.2)


def deploy_under_load(run, inventory, facts, tmp_path, playbook="deploy", extra_vars=None, host_vars=None):
    """As in the rolling scenario, through nginx: quick requests and slow ones (1 s) across the reloads."""
    inventories = [inventory]
    if host_vars:
        inventories.append(str(run.write_vars_inventory(tmp_path / "hosts.json", {}, host_vars)))
    args = ["-e", json.dumps(extra_vars)] if extra_vars else []
    url = facts["fleet_nginx_url"]
    slow = LoadGenerator(url + "slow?seconds=1", concurrency=2, max_duration=900, pause=0.01)
    with contextlib.ExitStack() as stack:
        load = stack.enter_context(run.under_load(url, keepalive=False))
        slow.start()
        stack.callback(slow.stop)
        result = run.playbook(playbook, inventories, args=args)
    for name, report in (("load", load.report), ("slow", slow.report)):
        print("\n%s %s (%.0f s): %s" % (playbook, name, result.seconds, report.summary()))
    return result, [load.report, slow.report]


def assert_no_failed_requests(reports):
    for report in reports:
        assert report.requests > 0, report.summary()
        assert report.failed == 0, (report.summary(), report.failures[:5])
        assert not report.haproxy_read and report.haproxy_delta_totals == {}  # nginx: no counters claimed


# -- after converge: v2 everywhere, nginx back as it was -----------------------------------------------


def test_every_host_runs_v2(host, app_names):
    assert {name: current_on(host, name) for name in app_names} == {name: "v2" for name in app_names}
    for name in app_names:
        assert host(name).file(BASE + "/current/VERSION").content_string.strip() == "v2"
        assert host(name).service("demoapp").is_running


def test_servers_file_is_back_to_every_server_in_the_pool(host, facts, fleet_spec, runner, app_names):
    text = servers_file(host, facts)
    upstream, servers = _nginx.parse_servers(text)
    assert upstream == facts["fleet_nginx_upstream"]
    expected = ["%s:%s" % (runner.get_variables(name)["ansible_host"], facts["fleet_app_port"]) for name in app_names]
    assert [(s.address, s.state, s.effective_weight) for s in servers] == [(a, "ready", 1) for a in expected]
    assert text == core.nginx_servers(fleet_spec)  # byte for byte what fleet up wrote
    assert host("lb1").run("nginx -t -q -c %s", facts["fleet_nginx_conf"]).rc == 0
    # no temporary file of an atomic rewrite left beside it
    assert host("lb1").check_output("ls -A %s", facts["fleet_nginx_servers_file"].rsplit("/", 1)[0]).split() == [
        facts["fleet_nginx_servers_file"].rsplit("/", 1)[1]
    ]


def test_nginx_was_reloaded_never_restarted_and_old_workers_are_gone(host):
    master, workers = nginx_processes(host)
    started = host("lb1").check_output("systemctl show -p ExecMainPID --value nginx")
    assert int(started) == master  # the master systemd started at boot: every change was a reload
    assert len(workers) == 1, workers  # worker_processes 1, and no old worker left behind by a reload


def test_haproxy_was_not_touched(host, facts, app_names):
    out = host("lb1").check_output(
        "echo 'show servers state %s' | socat stdio /run/haproxy/admin.sock", facts["fleet_haproxy_backend"]
    )
    rows = [line.split() for line in out.splitlines() if line.split()[1:2] == [facts["fleet_haproxy_backend"]]]
    assert sorted(r[3] for r in rows) == sorted(app_names)
    assert {r[6] for r in rows} == {"0"}  # srv_admin_state: nobody drained a HAProxy server


def test_lock_released_and_ledger_records_the_deploy(host, facts):
    assert not host("lb1").file(STATE + "/deploy.lock").exists
    data = ledger(host)
    assert data["release"] == "v2" and data["outcome"] == "succeeded"
    assert {h["previous"] for h in data["hosts"].values()} == {"v1"}
    assert {h["status"] for h in data["hosts"].values()} == {"moved"}
    assert [b["batch"] for b in data["batches"]] == [1, 2, 3, 4]
    # the load balancer's state captured before the first change is nginx's servers file, every server ready
    assert list(data["lb_state"]) == [facts["fleet_nginx_servers_file"]]
    assert {s["state"] for s in data["lb_state"][facts["fleet_nginx_servers_file"]].values()} == {"ready"}


# -- rollback on demand (back to v1, the start of the next case) ---------------------------------------


def test_rollback_on_demand_returns_every_host_to_v1_through_nginx(run, inventory, facts, host, app_names, tmp_path):
    before = servers_file(host, facts)
    result, reports = deploy_under_load(run, inventory, facts, tmp_path, playbook="rollback")
    assert result.ok, result.output[-3000:]
    assert_no_failed_requests(reports)
    assert {name: current_on(host, name) for name in app_names} == {name: "v1" for name in app_names}
    assert servers_file(host, facts) == before


# -- a release that never becomes ready, in the LAST batch -----------------------------------------------


def test_never_ready_in_the_last_batch_rolls_every_batch_back(run, inventory, facts, host, app_names, tmp_path):
    last = app_names[-1]
    # Same release id everywhere; only the last host gets the variant whose /health/ready never answers 200.
    run.remove_release(inventory, last, "v2")
    never_ready = "%s/demoapp-v2-never-ready.tar.gz" % facts["fleet_releases_dir"]
    before = servers_file(host, facts)
    master_before = nginx_processes(host)[0]
    result, reports = deploy_under_load(
        run,
        inventory,
        facts,
        tmp_path,
        extra_vars={"zerodown_ready_timeout": 10},
        host_vars={last: {"zerodown_artifact": never_ready}},
    )
    assert not result.ok
    assert "failed and was rolled back (rollback completed)" in result.output and last in result.output
    assert "not ready" in result.output
    assert_no_failed_requests(reports)
    # v2 reached every host before the last one failed: all of them moved, all of them came back
    assert reports[0].versions.get("v2", 0) > 0, reports[0].summary()
    assert {name: current_on(host, name) for name in app_names} == {name: "v1" for name in app_names}
    assert servers_file(host, facts) == before
    master_after, workers = nginx_processes(host)
    assert master_after == master_before and len(workers) == 1
    assert not host("lb1").file(STATE + "/deploy.lock").exists
    data = ledger(host)
    assert data["outcome"] == "rolled_back" and last in data["cause"]
    assert {h["status"] for h in data["hosts"].values()} == {"rolled_back"}
    run.remove_release(inventory, last, "v2")


# -- canary through nginx: weights in the servers file, each step judged from nginx's access log ---------------

CANARY = {
    "zerodown_strategy": "canary",
    "zerodown_canary_hosts": 1,
    "zerodown_canary_steps": [10, 50, 100],
    "zerodown_canary_pause": 3,
    "zerodown_canary_min_requests": 20,
    "zerodown_canary_max_wait": 20,
}


def test_canary_through_nginx_judges_each_step_from_the_access_log_then_rolls_the_rest(
    run, inventory, facts, host, app_names, tmp_path
):
    # Quick requests only: the 1 s requests of the other deploys, landing by chance on the canary or not, would
    # make a 10 % step's mean response time a coin toss (one of them among 100 canary requests adds 10 ms).
    before = servers_file(host, facts)
    with run.under_load(facts["fleet_nginx_url"], keepalive=False) as load:
        result = run.playbook("deploy", [inventory], args=["-e", json.dumps(dict(CANARY, zerodown_release="v2"))])
    assert result.ok, result.output[-3000:]
    assert_no_failed_requests([load.report])
    assert {name: current_on(host, name) for name in app_names} == {name: "v2" for name in app_names}
    assert servers_file(host, facts) == before, "every weight and state back as captured"
    data = ledger(host)
    assert data["outcome"] == "succeeded"
    assert [s["percent"] for s in measured_steps(data)] == [10, 50, 100]
    for step in measured_steps(data):
        assert step["verdict"] == "pass" and step["canary"]["requests"] >= 20, step
        assert step["canary"]["latency_ms"] is not None  # the exact mean from $upstream_response_time
    print(
        "canary through nginx: %s" % "; ".join("%g %%: %s" % (s["percent"], s["reason"]) for s in measured_steps(data))
    )


# -- blue-green through nginx: the live colour is read from nginx's servers file ------------------------------

BLUE_GREEN = {
    "zerodown_strategy": "blue_green",
    "zerodown_blue_group": "app1:app2",
    "zerodown_green_group": "app3:app4",
}


def nginx_states(host, facts):
    """server address -> ready | drain | maint, as nginx's servers file holds them."""
    _upstream, servers = _nginx.parse_servers(servers_file(host, facts))
    return {s.address: s.state for s in servers}


def test_blue_green_through_nginx_on_an_adopted_fleet_rolls_a_failed_smoke_test_back_without_a_dropped_request(
    run, inventory, facts, host, app_names, tmp_path
):
    """Both colours live on v2 (the canary above): adopted, green gets the release, the smoke test fails. Green goes
    back into nginx's upstream only once its hosts answer ready on v2 again."""
    before = nginx_states(host, facts), [current_on(host, h) for h in app_names]
    result, reports = deploy_under_load(
        run,
        inventory,
        facts,
        tmp_path,
        extra_vars=dict(
            BLUE_GREEN, zerodown_release="v2-smoke-fail", zerodown_smoke_checks=[{"name": "smoke", "path": "/smoke"}]
        ),
    )
    assert not result.ok and "failed and was rolled back (rollback completed)" in result.output, result.output[-3000:]
    assert_no_failed_requests(reports)
    assert (nginx_states(host, facts), [current_on(host, h) for h in app_names]) == before


def test_blue_green_through_nginx_adopts_the_fleet_then_goes_the_other_way(
    run, inventory, facts, host, runner, app_names, tmp_path
):
    address = {n: "%s:%s" % (runner.get_variables(n)["ansible_host"], facts["fleet_app_port"]) for n in app_names}
    blue, green = app_names[:2], app_names[2:]
    # every host on v2 (the canary above), every server ready: both colours live on one release, adopted (blue
    # stays live on v2, the new release goes to green)
    result, reports = deploy_under_load(
        run, inventory, facts, tmp_path, extra_vars=dict(BLUE_GREEN, zerodown_release="v2-slow-stop")
    )
    assert result.ok, result.output[-3000:]
    assert_no_failed_requests(reports)
    states = nginx_states(host, facts)
    assert [states[address[h]] for h in green] == ["ready"] * 2 and [states[address[h]] for h in blue] == ["drain"] * 2
    assert [current_on(host, h) for h in green] == ["v2-slow-stop"] * 2
    assert [current_on(host, h) for h in blue] == ["v2"] * 2
    assert reports[0].versions.get("v2-slow-stop", 0) > 0
    # the second deploy goes to the idle colour, blue, and switches back in one reload
    result, reports = deploy_under_load(
        run, inventory, facts, tmp_path, extra_vars=dict(BLUE_GREEN, zerodown_release="v2")
    )
    assert result.ok, result.output[-3000:]
    assert_no_failed_requests(reports)
    states = nginx_states(host, facts)
    assert [states[address[h]] for h in blue] == ["ready"] * 2 and [states[address[h]] for h in green] == ["drain"] * 2
    assert [current_on(host, h) for h in blue] == ["v2"] * 2
    assert ledger(host)["outcome"] == "succeeded"
