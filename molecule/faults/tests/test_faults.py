"""The fault matrix (docs/reliability.md), on one booted fleet, under load, in file order.

After converge every host runs v2 from a rolling deploy. Each case injects one fault into a deploy and checks
what every failure must leave: the fleet on one consistent release (the one before the deploy), the load
balancer's server states equal to before, the lock released, the ledger and the run's output naming the cause,
and zero failed requests (zero HAProxy retries and redispatches). Each case adds a row to the results
(``$ZERODOWN_FAULTS_RESULTS``, by default zerodown-faults.json in the temporary directory), from which
scripts/reliability-table.py writes docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pytest
from zerodown_testkit.e2e.verifier import (
    STATE,
    assert_no_failed_requests,
    current_on,
    deploy_under_load,
    fleet_db,
    lb_states,
    ledger,
    measured_steps,
)
from zerodown_testkit.fleet import core
from zerodown_testkit.support.lbharness import SlowRequests

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import wait_until
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import HAProxyRuntime

APPS = ["app1", "app2", "app3", "app4"]
LOCK = STATE + "/deploy.lock"
BLUE_GREEN = {"zerodown_strategy": "blue_green"}
CANARY = {"zerodown_strategy": "canary"}
RESULTS: list = []


@pytest.fixture(scope="module", autouse=True)
def results_file():
    """Every case's row, written once the module ran (the table in docs/reliability.md is made from it)."""
    yield
    path = Path(os.environ.get("ZERODOWN_FAULTS_RESULTS") or Path(tempfile.gettempdir()) / "zerodown-faults.json")
    path.write_text(json.dumps(RESULTS, indent=2) + "\n")
    print(
        "\nfault matrix results: %s (python scripts/reliability-table.py %s writes docs/reliability.md)" % (path, path)
    )
    for row in RESULTS:
        print("  %(case)s | %(strategy)s | %(fault)s | %(outcome)s | %(failed)s failed | %(seconds).1f s" % row)


@pytest.fixture
def inject(run, inventory, facts, host, tmp_path):
    """inject(case, strategy, fault, extra_vars): one deploy with a fault under load, checked; (result, ledger)."""
    return lambda *args, **kwargs: _inject(run, inventory, facts, host, tmp_path, *args, **kwargs)


def _inject(run, inventory, facts, host, tmp_path, case, strategy, fault, extra=None, host_vars=None, keepalive=True):
    """One deploy with a fault, under load; the checks every failure must pass; returns (result, ledger)."""
    backend = facts["fleet_haproxy_backend"]
    before = lb_states(host, backend), {name: current_on(host, name) for name in APPS}
    started = time.monotonic()
    result, report = deploy_under_load(
        run, inventory, facts, tmp_path, extra_vars=extra, host_vars=host_vars, keepalive=keepalive
    )
    seconds = time.monotonic() - started
    (tmp_path / "deploy.log").write_text(result.output)  # kept for a failing case's diagnosis
    assert not result.ok, "the deploy must fail: %s" % fault
    assert_no_failed_requests(report)
    assert settled_states(host, backend, before[0]) == before[0], "every server's state and weight as before"
    assert {name: current_on(host, name) for name in APPS} == before[1], "one consistent release: the one before"
    assert not host("lb1").file(LOCK).exists, "the lock released"
    data = ledger(host)
    RESULTS.append(
        {
            "case": case,
            "strategy": strategy,
            "fault": fault,
            "outcome": data.get("outcome"),
            "failed": report.failed,
            "requests": report.requests,
            "seconds": round(seconds, 1),
        }
    )
    return result, data


def test_load_balancer_api_unreachable_at_preflight_changes_nothing(inject, host, facts):
    """Case 3: the runtime API socket is not there: refused at preflight, nothing staged, lock released."""
    wrong = {"provider": "haproxy", "socket": "/run/haproxy/missing.sock", "backend": facts["fleet_haproxy_backend"]}
    releases = {name: host(name).run("ls -1 /opt/demoapp/releases").stdout.split() for name in APPS}
    result, _data = inject(
        "3",
        "rolling",
        "HAProxy runtime API unreachable at preflight",
        extra={"zerodown_release": "v2-slow-stop", "zerodown_lb": wrong},
    )
    assert "preflight failed, nothing was changed" in result.output and "missing.sock" in result.output
    assert {name: host(name).run("ls -1 /opt/demoapp/releases").stdout.split() for name in APPS} == releases
    RESULTS[-1]["outcome"] = "refused at preflight"


def _migration_vars(facts, tmp_path, files, port=None):
    """Deploy variables with the migration ``files`` ({name: SQL}) as the pending ones, checked from the controller
    against the fleet's PostgreSQL on db1 (or a closed ``port`` there), tracked in a table of their own."""
    src = tmp_path / "migrations"
    src.mkdir()
    for name, sql in files.items():
        (src / name).write_text(sql)
    return {
        "zerodown_release": "v2-crash",
        "zerodown_migrations_src": str(src),
        "zerodown_migrate_host": "localhost",
        "zerodown_migration_table": "zerodown_faults_migrations",
        "zerodown_db_dialect": "postgresql",
        "zerodown_db_dsn": "postgresql://%s@%s:%s/%s"
        % (facts["fleet_db_user"], facts["fleet_db_host"], port or facts["fleet_db_port"], facts["fleet_db_name"]),
        "zerodown_db_password": facts["fleet_db_password"],
        "zerodown_migration_connect_timeout": 3,
    }


#: Drops a column the running release writes (the sample app's visits.note): never backward compatible.
DROP_NOTE = {"0003_visits_drop_note.sql": "ALTER TABLE visits DROP COLUMN note;\n"}


def _releases(host):
    return {name: host(name).run("ls -1a /opt/demoapp/releases").stdout.split() for name in APPS}


def _visits_columns(facts):
    with fleet_db(facts) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2"
        ).fetchall()
    return rows


def test_incompatible_migration_is_blocked_before_any_change(inject, host, facts, tmp_path):
    """Case 1: a pending migration drops a column the running release reads: refused at preflight, nothing applied
    (the schema as before), nothing staged, the lock released."""
    releases, schema = _releases(host), _visits_columns(facts)
    result, _data = inject(
        "1", "rolling", "migration not backward compatible", extra=_migration_vars(facts, tmp_path, DROP_NOTE)
    )
    assert "preflight failed, nothing was changed: Release blocked" in result.output, result.output[-3000:]
    assert "0003_visits_drop_note.sql line 1: drop_column" in result.output
    assert _releases(host) == releases, "nothing staged"
    assert _visits_columns(facts) == schema, "nothing applied"
    RESULTS[-1]["outcome"] = "blocked at preflight"


def test_database_unreachable_at_preflight_changes_nothing(inject, host, facts, tmp_path):
    """Case 2: the database does not answer (a closed port on db1): refused at preflight naming host:port."""
    releases = _releases(host)
    result, _data = inject(
        "2",
        "rolling",
        "database unreachable at preflight",
        extra=_migration_vars(facts, tmp_path, DROP_NOTE, port=5999),
    )
    assert "preflight failed, nothing was changed" in result.output, result.output[-3000:]
    assert "cannot reach %s:5999" % facts["fleet_db_host"] in result.output
    # (the fleet's password is the app's name, so look for it where a leak would put it)
    assert ":%s@" % facts["fleet_db_password"] not in result.output and "password=" not in result.output
    assert _releases(host) == releases, "nothing staged"
    RESULTS[-1]["outcome"] = "refused at preflight"


def test_never_ready_in_the_first_batch_rolls_back(inject, host, facts):
    """Case 4, rolling: the first host never answers ready; it goes back, the others were never touched."""
    result, data = inject(
        "4",
        "rolling",
        "release never ready (first batch)",
        extra={"zerodown_release": "v2-never-ready", "zerodown_ready_timeout": 8},
    )
    assert "failed and was rolled back (rollback completed)" in result.output and "not ready" in result.output
    assert data["outcome"] == "rolled_back" and "app1" in data["cause"]
    assert [h for h, entry in data["hosts"].items() if entry["status"] == "rolled_back"] == ["app1"]


def test_smoke_test_failing_after_the_last_batch_rolls_every_batch_back(inject, host, facts):
    """Case 5, rolling: every host moved, then the smoke test through the load balancer fails."""
    result, data = inject(
        "5",
        "rolling",
        "smoke test fails",
        extra={"zerodown_release": "v2-smoke-fail"},
    )
    assert "smoke" in data["cause"] and "rollback completed" in result.output
    assert sorted(h for h, entry in data["hosts"].items() if entry["status"] == "rolled_back") == APPS


def test_canary_never_ready_is_aborted_before_any_step(inject, host, facts):
    """Case 4, canary: the canary host never becomes ready; no traffic moved, it goes back."""
    result, data = inject(
        "4",
        "canary",
        "release never ready (canary host)",
        extra=dict(CANARY, zerodown_release="v2-never-ready", zerodown_ready_timeout=8),
    )
    assert "not ready" in data["cause"] and "rollback completed" in result.output
    assert not measured_steps(data), "no canary step ran"


def test_canary_promoted_then_smoke_test_fails_rolls_the_whole_fleet_back(inject, host, facts):
    """Case 5, canary: every step passes (the variant answers 200), the rest follows, then the smoke test fails."""
    result, data = inject(
        "5",
        "canary",
        "smoke test fails after promotion",
        extra=dict(CANARY, zerodown_release="v2-smoke-fail"),
    )
    assert "smoke" in data["cause"] and "rollback completed" in result.output
    assert [s["verdict"] for s in measured_steps(data)] == ["pass"] * 3
    assert sorted(h for h, entry in data["hosts"].items() if entry["status"] == "rolled_back") == APPS


def test_blue_green_never_ready_leaves_traffic_on_the_live_colour(inject, host, facts):
    """Case 4, blue-green (adopting the fleet first): the idle colour never becomes ready; no switch happened."""
    result, data = inject(
        "4",
        "blue_green",
        "release never ready (idle colour)",
        extra=dict(BLUE_GREEN, zerodown_release="v2-never-ready", zerodown_ready_timeout=8),
    )
    assert "not ready" in data["cause"] and "rollback completed" in result.output


def test_blue_green_adopting_a_rolling_fleet_then_failing_its_smoke_test_drops_no_request(inject, host, facts):
    """Case 5, blue-green on the fleet a rolling deploy left (both colours live on one release, adopted: blue stays
    live, green is drained and gets the release), then the smoke test fails. Green was live before the deploy: the
    rollback puts it back into the pool only once its hosts answer ready on the release before, never while they are
    being returned (restoring the captured state first dropped requests on green's servers)."""
    result, data = inject(
        "5",
        "blue_green",
        "smoke test fails on a fleet adopted from rolling",
        extra=dict(BLUE_GREEN, zerodown_release="v2-smoke-fail"),
    )
    assert "smoke" in data["cause"] and "rollback completed" in result.output
    assert sorted(h for h, entry in data["hosts"].items() if entry["status"] == "rolled_back") == ["app3", "app4"]


def settled_states(host, backend: str, expected: dict, timeout: float = 20) -> dict:
    """The servers' states once they equal ``expected``, or as they are at ``timeout``: a host restarted by the
    rollback is UP again only after HAProxy's health checks passed (its admin state and weight are back at once)."""
    deadline = time.monotonic() + timeout
    while True:
        states = lb_states(host, backend)
        if states == expected or time.monotonic() > deadline:
            return states
        time.sleep(0.5)


def _hook(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_haproxy_reloaded_mid_deploy_is_detected_and_the_deploy_stops_safely(inject, host, facts, tmp_path):
    """Case 10: HAProxy on lb1 is reloaded while app1 (batch 1) is drained and ready on the new release: its runtime
    states fall back to the configuration. The next step sees a new process, stops, and the rollback restores."""
    hook = _hook(
        tmp_path,
        "reload_haproxy.yml",
        "- name: Reload HAProxy on lb1 (the fault)\n"
        "  ansible.builtin.command: systemctl reload haproxy\n"
        "  delegate_to: lb1\n"
        "  run_once: true\n"
        "  changed_when: true\n"
        "  when: zerodown_batch_index == 0\n",
    )
    result, data = inject(
        "10",
        "rolling",
        "HAProxy reloaded mid-deploy (runtime states back to the configuration)",
        extra={"zerodown_release": "v2-smoke-fail", "zerodown_hook_before_allow_traffic": hook},
        # the reload itself closes every idle kept client connection (the old HAProxy process stops), which a
        # keep-alive client must retry: the load counted 4 "RemoteDisconnected" within 5 ms, one per client, at
        # the reload. A connection per request proves what this case is about, the deploy's own requests.
        keepalive=False,
    )
    assert "was reloaded or restarted during this deploy" in data["cause"], data["cause"]
    assert "rollback completed" in result.output
    assert [h for h, entry in data["hosts"].items() if entry["status"] == "rolled_back"] == ["app1"]


def _slow_requests(facts, count: int, seconds: float) -> SlowRequests:
    """``count`` requests of ``seconds`` each through the load balancer (round robin: every server gets some),
    returned once HAProxy counts them all in flight."""
    slow = SlowRequests(facts["fleet_lb_url"].rstrip("/") + "/slow?seconds=%s" % seconds, count, timeout=120)
    runtime = HAProxyRuntime(facts["fleet_haproxy_admin"])
    wait_until(
        lambda: sum(v["scur"] for v in runtime.sessions(facts["fleet_haproxy_backend"], APPS).values()) >= count,
        timeout=15,
        interval=0.1,
        description="%d slow requests in flight" % count,
    )
    return slow


def test_drain_timeout_with_policy_fail_rolls_back(inject, host, facts):
    """Case 8, on_timeout=fail: a request far longer than the drain timeout keeps app1 busy; the drain gives up at
    its timeout, the deploy rolls back, the long request itself still completes."""
    slow = _slow_requests(facts, 8, 25)
    started = time.monotonic()
    result, data = inject(
        "8",
        "rolling",
        "drain timeout (policy fail)",
        extra={"zerodown_release": "v2-smoke-fail", "zerodown_drain_timeout": 3, "zerodown_drain_on_timeout": "fail"},
    )
    assert "rollback completed" in result.output
    # no host moved, so the run's ledger is kept beside the current one (the last deploy that moved hosts)
    data = ledger(host, "ledger.last-noop.json")
    assert data["outcome"] == "rolled_back" and "servers still busy after 3.0s" in data["cause"], data
    assert {entry["status"] for entry in data["hosts"].values()} <= {"unchanged", "staged"}, data["hosts"]
    RESULTS[-1]["outcome"] = data["outcome"]
    assert time.monotonic() - started < 25 + 30, "the deploy gave up at the drain timeout, not at the request's end"
    statuses = [r["status"] for r in slow.join(60)]
    assert statuses == [200] * 8, "the long requests were left to finish: %s" % slow.results


# app2's releases directory becomes a tmpfs holding its releases so far, then shrunk to what they use and 24 KiB
# more (a release is ~50 KiB there). Lazily unmounted afterwards: a process started from it keeps its files.
SMALL_FS = (
    "set -e; mkdir -p /run/zd-small; mount -t tmpfs -o size=64m,mode=0755 zd-small /run/zd-small; "
    "cp -a /opt/demoapp/releases/. /run/zd-small/; used=$(df -k --output=used /run/zd-small | tail -1); "
    "mount -o remount,size=$((used + 24))k /run/zd-small; mount --bind /run/zd-small /opt/demoapp/releases"
)


def test_disk_full_while_unpacking_fails_the_stage_and_leaves_no_partial_release(inject, host, facts):
    """Case 12: app2's releases directory is a small filesystem (its releases so far and 24 KiB more): unpacking
    the new release fails with no space left; nothing is switched anywhere, app2 keeps no partial release."""
    app2 = host("app2")
    assert app2.run(SMALL_FS).rc == 0
    try:
        result, data = inject(
            "12", "rolling", "disk full while the release is unpacked", extra={"zerodown_release": "v2-crash"}
        )
        listing = app2.run("ls -1a /opt/demoapp/releases").stdout.split()
        free = app2.run("df -k --output=avail /opt/demoapp/releases | tail -1").stdout.strip()
    finally:
        app2.run("umount -l /opt/demoapp/releases; umount -l /run/zd-small")
    assert "No space left on device: the filesystem of /opt/demoapp is full" in result.output, result.output[-3000:]
    assert "app2" in result.output
    assert "v2-crash" not in listing and not [n for n in listing if n.endswith(".partial")], listing
    assert int(free) > 20, "the partial release was removed (%s KiB free again)" % free
    RESULTS[-1]["outcome"] = "stage failed, nothing switched"


def _other_release(host) -> str:
    """A healthy release the fleet does not run (v2 or v1): a case whose fault spares some hosts moves them to it."""
    return "v2" if current_on(host, "app1") == "v1" else "v1"


def _fault_hook(tmp_path, host_name: str, batch: int, call: str, what: str) -> str:
    """A before_switch hook that runs ``core.<call>`` on ``host_name``'s machine in batch ``batch``, from the
    controller (a machine killed, its network cut)."""
    fleet = os.environ.get("ZERODOWN_FLEET_NAME") or core.default_name()
    return _hook(
        tmp_path,
        "fault_%s.yml" % host_name,
        "- name: %s (the fault)\n"
        "  ansible.builtin.command:\n"
        '    argv: ["{{ ansible_playbook_python }}", -c, "from zerodown_testkit.fleet import core; '
        "core.%s(core.load_spec('%s'), '%s')\"]\n"
        "  delegate_to: localhost\n"
        "  changed_when: true\n"
        "  when: inventory_hostname == '%s' and zerodown_batch_index + 1 == %d\n"
        % (what, call, fleet, host_name, host_name, batch),
    )


@pytest.fixture
def revive(host, facts):
    """Boot the killed machines again on their own disk (or give them their network back) and put their servers
    back in the pool: the next cases need them."""
    hurt: list = []
    yield hurt
    spec = core.load_spec(os.environ.get("ZERODOWN_FLEET_NAME") or core.default_name())
    for name in hurt:
        if core.machine_running(spec, name):
            core.set_network(spec, name, True)
        else:
            core.restart_machine(spec, name)
        HAProxyRuntime(facts["fleet_haproxy_admin"]).set_server_state(facts["fleet_haproxy_backend"], name, "ready")


def _host_lost(run, inventory, facts, host, tmp_path, case, fault, call, what):
    """Cases 6 and 7: app2 is lost in batch 2 after its drain (app1 already moved): the deploy stops, app1 goes back,
    app2 is left out of the pool (maint) and reported; no request fails (app2 was drained)."""
    backend = facts["fleet_haproxy_backend"]
    before = lb_states(host, backend), {name: current_on(host, name) for name in APPS}
    hook = _fault_hook(tmp_path, "app2", 2, call, what)
    started = time.monotonic()
    result, report = deploy_under_load(
        run,
        inventory,
        facts,
        tmp_path,
        extra_vars={"zerodown_release": _other_release(host), "zerodown_hook_before_switch": hook},
    )
    seconds = time.monotonic() - started
    (tmp_path / "deploy.log").write_text(result.output)
    assert not result.ok
    assert_no_failed_requests(report)
    others = {n: state for n, state in before[0].items() if n != "app2"}
    after = settled_states(host, backend, dict(lb_states(host, backend), **others))
    assert after["app2"][0] in ("1", "33"), "the lost host is left in maint: %s" % (after,)
    assert {n: state for n, state in after.items() if n != "app2"} == others
    assert {name: current_on(host, name) for name in APPS if name != "app2"} == {
        name: release for name, release in before[1].items() if name != "app2"
    }, "every reachable host on the release before"
    assert not host("lb1").file(LOCK).exists
    data = ledger(host)
    assert data["cause"].startswith("app2: unreachable: "), data["cause"]
    assert data["hosts"]["app2"]["status"] == "unreachable" and data["hosts"]["app1"]["status"] == "rolled_back"
    assert "unreachable: app2 - left out of the pool (maint)" in result.output and "rollback completed" in result.output
    RESULTS.append(
        {
            "case": case,
            "strategy": "rolling",
            "fault": fault,
            "outcome": "%s, app2 left in maint" % data["outcome"],
            "failed": report.failed,
            "requests": report.requests,
            "seconds": round(seconds, 1),
        }
    )
    return seconds


def test_an_app_host_killed_mid_batch_stops_the_deploy_and_is_left_in_maint(
    run, inventory, facts, host, tmp_path, revive
):
    """Case 6: app2's machine is powered off hard in batch 2, after its drain."""
    revive.append("app2")
    _host_lost(
        run, inventory, facts, host, tmp_path, "6", "app host killed mid-batch", "kill_machine", "Power app2 off"
    )


def test_an_app_host_cut_off_mid_batch_is_left_in_maint_without_hanging(run, inventory, facts, host, tmp_path, revive):
    """Case 7: app2's network is cut inside the machine in batch 2 (it runs on, nothing reaches it): as case 6, and
    the deploy does not hang on the dead SSH connection (ServerAliveInterval, the connect timeout)."""
    revive.append("app2")
    seconds = _host_lost(
        run,
        inventory,
        facts,
        host,
        tmp_path,
        "7",
        "app host cut off (network down inside it) mid-batch",
        "cut_network",
        "Cut app2 off",
    )
    assert seconds < 120, "bounded by the SSH keep-alive and connect timeouts, not the TCP retransmission timeout"


def _rolling_in_batch_2(data: dict) -> bool:
    return len(data.get("batches", [])) >= 2


def _canary_stepping(data: dict) -> bool:
    """The canary in traffic: its first step recorded."""
    return bool(measured_steps(data))


def _blue_green_switching(data: dict) -> bool:
    """The idle colour drained and its hosts being moved: the middle of the switch."""
    return any(entry.get("status") == "switching" for entry in data.get("hosts", {}).values())


@pytest.mark.parametrize(
    "strategy, extra, killed_when, fault",
    [
        ("rolling", {}, _rolling_in_batch_2, "ansible-playbook SIGKILLed mid-rollout, then zerodown.deploy.rollback"),
        (
            "blue_green",
            BLUE_GREEN,
            _blue_green_switching,
            "ansible-playbook SIGKILLed mid-switch (fleet adopted from rolling), then zerodown.deploy.rollback",
        ),
        (
            "canary",
            dict(CANARY, zerodown_canary_steps=[50, 100], zerodown_canary_pause=5),
            _canary_stepping,
            "ansible-playbook SIGKILLed with the canary in traffic, then zerodown.deploy.rollback",
        ),
    ],
    ids=["rolling", "blue_green", "canary"],
)
def test_a_deploy_killed_mid_rollout_is_recovered_from_the_ledger_by_rollback(
    run, inventory, facts, host, tmp_path, strategy, extra, killed_when, fault
):
    """Case 9: ansible-playbook (and its workers) SIGKILLed in batch 2 (rolling) or in the middle of its switch
    (blue-green on the fleet rolling left, both colours live); its lock stays behind. zerodown.deploy.rollback takes
    the lock over at once (its holder's process is gone from this controller: audited with the reason) and brings
    every host back to the release before, from the ledger; no request fails."""
    backend = facts["fleet_haproxy_backend"]
    before = lb_states(host, backend), {name: current_on(host, name) for name in APPS}
    first_run = ledger(host).get("run_id")
    with run.under_load(facts["fleet_lb_url"], facts["fleet_haproxy_admin"], backend) as load:
        proc = run.start_playbook(
            "deploy",
            [inventory],
            args=["-e", json.dumps(dict(extra, zerodown_release=_other_release(host)))],
            log=tmp_path / "killed.log",
        )
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the deploy never reached the point to kill it at"
            data = json.loads(host("lb1").run("cat %s/ledger.json", STATE).stdout or "{}")
            if data.get("run_id") != first_run and killed_when(data):
                break
            time.sleep(0.2)
        run.kill_tree(proc.pid)
        proc.wait()
        killed_at = time.monotonic()
        assert host("lb1").file(LOCK).exists, "the killed run's lock stays behind"
        recovery = run.playbook("rollback", [inventory], args=["-e", json.dumps(extra)] if extra else [])
        seconds = time.monotonic() - killed_at
    report = load.report
    (tmp_path / "rollback.log").write_text(recovery.output)
    assert recovery.ok, recovery.output[-3000:]
    assert_no_failed_requests(report)
    assert settled_states(host, backend, before[0]) == before[0], "every server's state and weight as before"
    assert {name: current_on(host, name) for name in APPS} == before[1], "one consistent release: the one before"
    assert not host("lb1").file(LOCK).exists, "the lock released"
    audit = [json.loads(line) for line in host("lb1").file(STATE + "/audit.log").content_string.splitlines()]
    takeover = [e for e in audit if e.get("event") == "force_break" and "died" in (e.get("reason") or "")]
    assert takeover and takeover[-1]["previous"]["run_id"] == data["run_id"], audit[-3:]
    recovered = ledger(host)
    assert recovered["run_id"] == data["run_id"] and recovered["outcome"] == "rolled_back", recovered["outcome"]
    RESULTS.append(
        {
            "case": "9",
            "strategy": strategy,
            "fault": fault,
            "outcome": "rolled back by rollback.yml (lock of the dead run taken over, audited)",
            "failed": report.failed,
            "requests": report.requests,
            "seconds": round(seconds, 1),
        }
    )


def test_drain_timeout_with_policy_shutdown_cuts_the_sessions_and_reports_them(run, inventory, facts, host, tmp_path):
    """Case 8, on_timeout=shutdown: the drain shuts the long sessions down at its timeout, says how many it cut, and
    the deploy goes on; only those long requests fail, none of the load generator's. It succeeds (to a release the
    hosts do not run), so only case 11 follows it."""
    backend = facts["fleet_haproxy_backend"]
    target = _other_release(host)
    slow = _slow_requests(facts, 8, 40)
    started = time.monotonic()
    result, report = deploy_under_load(
        run,
        inventory,
        facts,
        tmp_path,
        extra_vars={"zerodown_release": target, "zerodown_drain_timeout": 3, "zerodown_drain_on_timeout": "shutdown"},
    )
    seconds = time.monotonic() - started
    assert result.ok, result.output[-3000:]
    results = slow.join(60)
    assert len(results) == 8, "every long request ended: %s" % results
    cut = [r for r in results if r["status"] != 200]
    assert_no_failed_requests(report)
    assert {current_on(host, name) for name in APPS} == {target}, "one consistent release: the new one"
    assert all(state[0] == "0" for state in lb_states(host, backend).values()), "every server back in the pool"
    assert not host("lb1").file(LOCK).exists
    data = ledger(host)
    reported = sum(int(s.get("killed_sessions") or 0) for s in data.get("steps", []) if s.get("name") == "drain")
    # the count is HAProxy's sessions on the drained server when they were shut down: each cut client is one of them
    assert 1 <= len(cut) <= reported, "cut %s, reported %s: %s" % (len(cut), reported, results)
    assert ("cut %d" % reported) in result.output, "the summary says how many sessions were cut"
    RESULTS.append(
        {
            "case": "8",
            "strategy": "rolling",
            "fault": "drain timeout (policy shutdown)",
            "outcome": "%s (%d long sessions cut)" % (data.get("outcome"), reported),
            "failed": report.failed,
            "requests": report.requests,
            "seconds": round(seconds, 1),
        }
    )


def test_a_rollback_that_cannot_complete_says_so_and_what_to_run(run, inventory, facts, host, tmp_path):
    """Case 11: app2's previous release is removed by hand during the deploy, so app2 cannot go back. It leaves the
    fleet on two releases by design, so it is the last case of the file."""
    hook = tmp_path / "remove_previous.yml"
    hook.write_text(
        "- name: Remove app2's previous release by hand (the fault)\n"
        "  ansible.builtin.file:\n"
        '    path: "/opt/demoapp/releases/{{ zerodown_release_state.previous }}"\n'
        "    state: absent\n"
        "  when: inventory_hostname == 'app2'\n"
    )
    backend = facts["fleet_haproxy_backend"]
    started = time.monotonic()
    result, report = deploy_under_load(
        run,
        inventory,
        facts,
        tmp_path,
        extra_vars={"zerodown_release": "v2-smoke-fail", "zerodown_hook_after_switch": str(hook)},
    )
    seconds = time.monotonic() - started
    assert not result.ok and "ROLLBACK INCOMPLETE" in result.output
    assert_no_failed_requests(report)
    data = ledger(host)
    assert data["outcome"] == "failed", data["outcome"]
    assert data["hosts"]["app2"]["status"] != "rolled_back", data["hosts"]["app2"]
    assert current_on(host, "app2") == "v2-smoke-fail", "app2 stays where it is, nothing pretends otherwise"
    states = lb_states(host, backend)
    assert not host("lb1").file(LOCK).exists
    RESULTS.append(
        {
            "case": "11",
            "strategy": "rolling",
            "fault": "previous release removed by hand (rollback cannot complete)",
            "outcome": "ROLLBACK INCOMPLETE (%s)" % data["outcome"],
            "failed": report.failed,
            "requests": report.requests,
            "seconds": round(seconds, 1),
        }
    )
    print("rollback incomplete: app2 %s, servers %s" % (data["hosts"]["app2"], states))
