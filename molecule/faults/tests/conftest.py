"""The `faults` scenario's verifier: the shared fixtures (inventory, facts, app_names, host, run)."""

from zerodown_testkit.e2e.verifier import app_names, facts, host, inventory, run, runner  # noqa: F401  # pylint: disable=unused-import
