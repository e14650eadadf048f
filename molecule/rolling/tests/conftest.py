"""The `rolling` scenario's verifier: the shared fixtures (inventory, facts, app_names, host, run; ee_image)."""

from zerodown_testkit.e2e.verifier import app_names, facts, host, inventory, run, runner  # noqa: F401  # pylint: disable=unused-import
from zerodown_testkit.support.ee import ee_image  # noqa: F401  # pylint: disable=unused-import
