"""Shared pytest plumbing for zerodown.deploy.

* ``ansible_collections.zerodown.deploy`` and ``zerodown_testkit`` import
  because ``make venv`` writes a ``.pth`` naming ``.collections`` (which
  links back to this flat checkout) and ``tests/``; a venv without it fails
  here with the fix;
* ``module_runner``: ``zerodown_testkit.support.ansible_run.run_module``, which
  runs one of our modules through real Ansible (ad-hoc, on localhost) and
  returns its result dict, so integration tests exercise the same argument
  parsing, check mode and JSON output users get. Test modules may import it
  directly.
"""

from __future__ import annotations

import importlib

import pytest
from zerodown_testkit.support.ansible_run import COLLECTIONS, REPO, ansible_env, ensure_collection_link, run_module

__all__ = ["REPO", "COLLECTIONS", "ansible_env", "run_module"]

ensure_collection_link()
try:
    importlib.import_module("ansible_collections.zerodown.deploy.plugins.module_utils")
except ImportError as exc:
    raise pytest.UsageError(
        "the collection is not importable (%s): run `make venv`, which writes zerodown-dev.pth naming %s into the "
        "virtualenv's site-packages" % (exc, COLLECTIONS)
    ) from exc


@pytest.fixture
def module_runner():
    return run_module
