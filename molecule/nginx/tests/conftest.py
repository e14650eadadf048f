"""Fixtures for the `nginx` scenario's verifier (testinfra through molecule's inventory)."""

from __future__ import annotations

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner
from zerodown_testkit.e2e import deploy_run


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
    assert len(names) == 4, "the nginx scenario needs 4 app hosts, the fleet has %s" % names
    return names


@pytest.fixture(scope="session")
def host(inventory):
    def get(name: str):
        return testinfra.get_host("ansible://%s" % name, ansible_inventory=inventory)

    return get


@pytest.fixture(scope="session")
def run():
    return deploy_run


@pytest.fixture(scope="session")
def fleet_spec(facts):
    """The fleet's own description (the servers file fleet up wrote, the addresses)."""
    from zerodown_testkit.fleet import core

    spec = core.load_spec(facts["fleet_name"])
    assert spec is not None, "fleet %s is not up" % facts["fleet_name"]
    return spec
