"""Shared pytest plumbing for zerodown.deploy.

* makes ``ansible_collections.zerodown.deploy`` importable (the repository is
  flat; ``.collections/ansible_collections/zerodown/deploy`` links back to it);
* ``module_runner``: ``support.ansible_run.run_module``, which runs one of our
  modules through real Ansible (ad-hoc, on localhost) and returns its result
  dict, so integration tests exercise the same argument parsing, check mode
  and JSON output users get. Test modules may import it directly.
"""

from __future__ import annotations

import sys

import pytest
from support.ansible_run import COLLECTIONS, REPO, ansible_env, ensure_collection_link, run_module

__all__ = ["REPO", "COLLECTIONS", "ansible_env", "run_module"]

ensure_collection_link()
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))


@pytest.fixture
def module_runner():
    return run_module
