"""The `nginx` scenario's verifier: the shared fixtures, and the fleet's own description."""

from __future__ import annotations

import pytest
from zerodown_testkit.e2e.verifier import app_names, facts, host, inventory, run, runner  # noqa: F401  # pylint: disable=unused-import


@pytest.fixture(scope="session")
def fleet_spec(facts):  # noqa: F811  # pylint: disable=redefined-outer-name
    """The fleet's own description (the servers file fleet up wrote, the addresses)."""
    from zerodown_testkit.fleet import core

    spec = core.load_spec(facts["fleet_name"])
    assert spec is not None, "fleet %s is not up" % facts["fleet_name"]
    return spec
