#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_requirements
short_description: Check that a host has what a deploy will need there, or name every host that lacks something
version_added: 0.2.0
description:
  - With O(needs), looks at the host it runs on - Python version, systemd, the HAProxy runtime API socket (that this
    user may connect to it), nginx's files, the database driver of the migration host, free disk for the artifact and
    what it unpacks to - and fails listing RV(missing) when something the run needs is not there. It changes nothing.
  - The deploy playbook's preflight runs it on every host the deploy touches, with the needs the plan computed for each
    (C(zerodown_plan.requirements)), before the lock is taken; a host lacking something ends the deploy with
    C(preflight failed, nothing was changed).
  - With O(results), judges the registered results of such a run on every host of O(hosts) and fails with one message
    that names each host and what it lacks (or why it could not be asked). This runs on the controller, in the action
    plugin, without a round trip to any host.
  - Needs nothing beyond Python's standard library, like every module of this collection that runs on a managed host
    (the migration host alone needs its database driver).
author:
  - zerodown.deploy contributors (@zerodown)
extends_documentation_fragment:
  - zerodown.deploy.attributes
attributes:
  check_mode:
    support: full
    details: It only reads.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  needs:
    description:
      - What this host must have - C(python) (oldest version, C(3.8)), C(systemd) (bool), C(sockets) (HAProxy runtime
        API addresses), C(nginx) (C(conf), C(servers_file)), C(db_driver) (C(postgresql) or C(mysql)), C(disk)
        (C(path), C(release), C(unpacked_bytes), C(artifact_bytes)).
      - One entry of C(zerodown_plan.requirements).
    type: dict
  results:
    description: Host to the registered result of this module with O(needs) on that host.
    type: dict
  hosts:
    description: Every host that had to answer in O(results); a host without an answer counts as not checked.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Requirements - ask every host of the deploy
  zerodown.deploy.host_requirements:
    needs: "{{ zerodown_plan.requirements[inventory_hostname] }}"
  when: inventory_hostname in zerodown_plan.requirements
  register: zerodown_requirements
  ignore_errors: true
  ignore_unreachable: true

- name: Requirements - refuse the deploy naming each host and what it lacks
  zerodown.deploy.host_requirements:
    results: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'zerodown_requirements'))) }}"
    hosts: "{{ zerodown_plan.requirements | list }}"
  run_once: true
"""

RETURN = r"""
missing:
  description: What this host lacks, one sentence each with what to install or fix (O(needs)).
  returned: with O(needs)
  type: list
  elements: str
  sample: ["the HAProxy runtime API: /run/haproxy/admin.sock: permission denied for uid 1000 (mode 0o600): run as root"]
found:
  description: What was found (Python version, systemd, socket reachability, free disk).
  returned: with O(needs)
  type: dict
  sample: {"python": "3.11.2", "systemd": true, "disk": {"path": "/opt", "free_bytes": 1073741824}}
hosts:
  description: With O(results), the hosts that lack something, each with what it lacks.
  returned: with O(results)
  type: dict
  sample: {"app2": ["Python 3.8 or newer (this host runs 3.6.8 with /usr/bin/python3)"]}
"""

from ansible_collections.zerodown.deploy.plugins.module_utils import _requirements  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils._module import run_module  # noqa: E402


def main() -> None:
    argument_spec = dict(
        needs=dict(type="dict"),
        results=dict(type="dict"),
        hosts=dict(type="list", elements="str"),
    )
    run_module(
        argument_spec,
        _requirements.run,
        # Where a sent artifact lands: Ansible's remote temporary directory. Only looked at, not made (module.tmpdir
        # would create it, with a warning on a host that never had one).
        from_module=lambda module: dict(tmpdir=getattr(module, "_remote_tmp", None) or "~/.ansible/tmp"),
        mutually_exclusive=[("needs", "results")],
        required_one_of=[("needs", "results")],
        required_by={"results": "hosts"},
    )


if __name__ == "__main__":
    main()
