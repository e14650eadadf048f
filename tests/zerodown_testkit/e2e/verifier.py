"""The molecule scenarios' verifier plumbing, one place for all of them (a pytest plugin).

Each scenario's ``tests/conftest.py`` says ``pytest_plugins = ["zerodown_testkit.e2e.verifier"]``: testinfra runs
with molecule's inventory (``--ansible-inventory``), and these fixtures and helpers read the fleet through it.
"""

from __future__ import annotations

import json

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

from . import deploy_run

BASE = "/opt/demoapp"
STATE = "/var/lib/zerodown/demoapp"
ADMIN_SOCKET = "/run/haproxy/admin.sock"


@pytest.fixture(scope="session")
def inventory(request) -> str:
    path = request.config.option.ansible_inventory
    assert path, "run through molecule (testinfra needs --ansible-inventory)"
    return path


@pytest.fixture(scope="session")
def runner(inventory) -> AnsibleRunner:
    return AnsibleRunner(inventory)


@pytest.fixture(scope="session")
def facts(runner) -> dict:
    return runner.get_variables("lb1")


@pytest.fixture(scope="session")
def app_names(runner) -> list:
    names = sorted(runner.get_hosts("app"), key=lambda n: int(n[3:]))
    assert len(names) == 4, "the scenario needs 4 app hosts, the fleet has %s" % names
    return names


@pytest.fixture(scope="session")
def host(inventory):
    def get(name: str):
        return testinfra.get_host("ansible://%s" % name, ansible_inventory=inventory)

    return get


@pytest.fixture(scope="session")
def run():
    return deploy_run


def current_on(host, name: str) -> str:
    """The release ``current`` points at on app host ``name``."""
    return host(name).file(BASE + "/current").linked_to.rsplit("/", 1)[-1]


def lb_states(host, backend: str) -> dict:
    """server -> (admin state, operational state, weight), from HAProxy's `show servers state` on lb1."""
    out = host("lb1").run("echo 'show servers state %s' | socat stdio %s", backend, ADMIN_SOCKET)
    assert out.rc == 0, out.stderr
    states = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) > 7 and parts[1] == backend:
            states[parts[3]] = (parts[6], parts[5], parts[7])
    assert states, out.stdout
    return states


def measured_steps(data: dict) -> list:
    """The ledger's canary steps and bake windows: its steps less the drains and the deploy's tally (the failed
    requests counted from preflight to the end, canary_analysis state=tally)."""
    return [s for s in data.get("steps") or [] if s.get("name") not in ("drain", "tally")]


def tally(data: dict) -> dict:
    """The ledger's tally step (the last one), or {}."""
    found = [s for s in data.get("steps") or [] if s.get("name") == "tally"]
    return found[-1] if found else {}


def ledger(host, name: str = "ledger.json") -> dict:
    """The ledger on lb1; ``ledger.last-noop.json`` is the last run that moved no host (the current ledger stays the
    last deploy that did, the one a rollback goes back from)."""
    return json.loads(host("lb1").file(STATE + "/" + name).content_string)


def fleet_db(facts):
    """A connection to the fleet's PostgreSQL on db1 as the sample app's user (a context manager)."""
    import psycopg

    return psycopg.connect(
        host=facts["fleet_db_host"],
        port=facts["fleet_db_port"],
        dbname=facts["fleet_db_name"],
        user=facts["fleet_db_user"],
        password=facts["fleet_db_password"],
        connect_timeout=5,
    )


def lock_exists(host) -> bool:
    return host("lb1").file(STATE + "/deploy.lock").exists


def assert_tally_matches_the_load(result, data: dict, report, other_requests: int = 0) -> None:
    """The deploy's own count of failed requests (the ledger ``data``'s tally from preflight to the end, the summary
    line) against the load generator's. The load runs a little before and after the playbook, but every failure
    falls inside the deploy (the old release answers 200 before and after) and only the load's requests pass through
    the load balancer (readiness probes go to the hosts), so the failed counts are equal; the load balancer's
    requests are at most the load's plus ``other_requests`` (a smoke test's, which go through it too)."""
    count = tally(data)
    assert count.get("measured") is True, count
    total = count["total"]
    assert total["failed"] == report.failed == total["http_5xx"], (total, report.failed)
    assert total["connection_errors"] == total["response_errors"] == 0, total
    assert total["retries"] == total["redispatches"] == 0, total
    assert 0 < total["requests"] <= report.requests + other_requests, (total, report.requests, other_requests)
    assert sum(s["failed"] for s in count["servers"].values()) == total["failed"], count["servers"]
    line = (
        "failed requests (load balancer's count): %d of %d (5xx %d, connection errors 0, response errors 0, "
        "retries 0, redispatches 0)" % (total["failed"], total["requests"], total["http_5xx"])
    )
    assert line in result.output, result.output[-3000:]
    print("tally: %s; load generator: %d failed of %d" % (line, report.failed, report.requests))


def assert_no_failed_requests(report) -> None:
    assert report.requests > 0
    assert report.failed == 0, report.failures[:5]
    assert report.haproxy_delta_totals["wretr"] == 0, report.haproxy_delta_totals
    assert report.haproxy_delta_totals["wredis"] == 0, report.haproxy_delta_totals


def deploy_under_load(
    run,
    inventory,
    facts,
    tmp_path,
    playbook="deploy",
    extra_vars=None,
    host_vars=None,
    args=(),
    env=None,
    saturate=False,
    keepalive=True,
):
    """extra_vars go in -e (they must beat group_vars/all.yml); host_vars in an inventory file
    (a per-host value beats group vars, which -e would not allow per host); env adds to the run's environment;
    ``saturate``: the load keeps both cores busy; ``keepalive=False``: a connection per request
    (``deploy_run.under_load``)."""
    inventories = [inventory]
    if host_vars:
        inventories.append(str(run.write_vars_inventory(tmp_path / "hosts.json", {}, host_vars)))
    cli = list(args) + (["-e", json.dumps(extra_vars)] if extra_vars else [])
    with run.under_load(
        facts["fleet_lb_url"],
        facts["fleet_haproxy_admin"],
        facts["fleet_haproxy_backend"],
        saturate=saturate,
        keepalive=keepalive,
    ) as load:
        result = run.playbook(playbook, inventories, args=cli, env=env)
    return result, load.report
