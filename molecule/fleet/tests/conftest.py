"""Shared fixtures for the `fleet` scenario's testinfra verifier.

testinfra runs with ``--connection=ansible --ansible-inventory=<molecule's
inventory directory>``, where ``hosts`` links to tests/zerodown_testkit/fleet/ansible_inventory.py.
"""

from __future__ import annotations

import http.client
import importlib.util
import time
from pathlib import Path

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

REPO = Path(__file__).resolve().parents[3]


def _haproxy_module():
    path = REPO / "plugins" / "module_utils" / "lb" / "haproxy.py"
    spec = importlib.util.spec_from_file_location("zerodown_haproxy_verifier", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def inventory(request) -> str:
    path = request.config.option.ansible_inventory
    assert path, "run through molecule (testinfra needs --ansible-inventory)"
    return path


@pytest.fixture(scope="session")
def runner(inventory) -> AnsibleRunner:
    return AnsibleRunner(inventory)


@pytest.fixture(scope="session")
def fleet_hosts(runner, inventory) -> dict:
    names = runner.get_hosts("all")
    assert {"lb1", "db1"} <= set(names), "the fleet inventory has no lb1/db1: %s" % names
    return {name: testinfra.get_host("ansible://%s" % name, ansible_inventory=inventory) for name in names}


@pytest.fixture(scope="session")
def app_names(runner) -> list:
    names = sorted(runner.get_hosts("app"), key=lambda n: int(n[3:]))
    assert names, "the fleet inventory has no app hosts"
    return names


@pytest.fixture(scope="session")
def facts(runner) -> dict:
    return runner.get_variables("lb1")


@pytest.fixture(scope="session")
def haproxy(facts):
    """The collection's runtime API client on the LB's TCP admin socket."""
    return _haproxy_module().HAProxyRuntime(facts["fleet_haproxy_admin"])


def http_get(url_host: str, path: str, port: int = 80, timeout: float = 5.0):
    conn = http.client.HTTPConnection(url_host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        # resp.headers looks names up case-insensitively (HAProxy sends them lower-case)
        return resp.status, resp.headers, resp.read().decode()
    finally:
        conn.close()


def wait_for(predicate, timeout: float, what: str):
    """Poll ``predicate`` until truthy; fail the test with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail("timed out after %ss waiting for %s (last: %r)" % (timeout, what, value))
        time.sleep(0.2)
