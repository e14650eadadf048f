"""The image the tests run in, built once per session (``make ee``)."""

from zerodown_testkit.support.ee import ee_image  # noqa: F401  # pylint: disable=unused-import
