#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: blue_green_state
short_description: Read which blue-green colour is live from the load balancer itself
version_added: 0.2.0
description:
  - Reads every load balancer (as M(zerodown.deploy.switch_traffic) does in its read-only mode) and works out which
    colour takes traffic - a colour is live when one of its servers is V(ready) with a weight above 0.
  - One live colour - the other is RV(idle), where the next release goes.
  - Both colours live on the same release (a fleet bootstrapped, or run by the rolling strategy) - adopted, the colour
    O(adopt) stays live and the other becomes RV(idle) (the role drains it first).
  - Both live on different releases, neither live, or load balancers that disagree - the module fails, saying what it
    found, and nothing is changed.
  - Never from a record of its own, which goes stale when someone switches by hand - the load balancer is the truth.
author:
  - zerodown.deploy contributors (@zerodown)
extends_documentation_fragment:
  - zerodown.deploy.attributes
  - zerodown.deploy.lb_description
attributes:
  check_mode:
    support: full
    details: It only reads.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  colours:
    description: "The inventory hosts of each colour, C({blue: [...], green: [...]}) (C(zerodown_plan.blue_green.colours))."
    type: dict
    required: true
  servers:
    description: Inventory host to backend server name (C(zerodown_plan.servers)); a host missing here is its own name.
    type: dict
    default: {}
  releases:
    description:
      - What each host runs, as a list of C(zerodown_release_state) facts (their C(host) and C(previous)) or a dict of
        host to release; used to tell adoption (both colours on one release) from two releases live at once.
    type: raw
    default: {}
  adopt:
    description: The colour that stays live when both serve the same release.
    type: str
    choices: [blue, green]
    default: blue
  release:
    description: The release being deployed; RV(up_to_date) when the live colour runs it already.
    type: str
"""

EXAMPLES = r"""
- name: Which colour is live
  zerodown.deploy.blue_green_state:
    load_balancer: "{{ zerodown_plan.lb }}"
    colours: "{{ zerodown_plan.blue_green.colours }}"
    servers: "{{ zerodown_plan.servers }}"
    releases: "{{ zerodown_plan.app_hosts | map('extract', hostvars, 'zerodown_release_state') | list }}"
  delegate_to: "{{ zerodown_plan.lock_host }}"
  run_once: true
  register: colour
"""

RETURN = r"""
live:
  description: The live colour.
  returned: success
  type: str
  sample: blue
idle:
  description: The idle colour, where the next release goes.
  returned: success
  type: str
  sample: green
adopted:
  description: Both colours served the same release; O(adopt) stays live and RV(idle) must be drained first.
  returned: success
  type: bool
live_hosts:
  description: Inventory hosts of the live colour.
  returned: success
  type: list
  elements: str
idle_hosts:
  description: Inventory hosts of the idle colour.
  returned: success
  type: list
  elements: str
live_servers:
  description: Backend servers of the live colour.
  returned: success
  type: list
  elements: str
idle_servers:
  description: Backend servers of the idle colour.
  returned: success
  type: list
  elements: str
serving:
  description: Per colour and load balancer, the hosts taking traffic.
  returned: always
  type: dict
releases:
  description: Per colour, the releases its hosts run.
  returned: success
  type: dict
up_to_date:
  description: The live colour runs O(release) already; a deploy of it changes nothing.
  returned: success
  type: bool
"""

from ansible_collections.zerodown.deploy.plugins.module_utils._module import run_module  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.bluegreen import run  # noqa: E402


def main():
    argument_spec = dict(
        load_balancer=dict(type="dict", options=lb.ARGUMENT_SPEC["load_balancer"]["options"]),
        colours=dict(type="dict", required=True),
        servers=dict(type="dict", default={}),
        releases=dict(type="raw", default={}),
        adopt=dict(type="str", choices=["blue", "green"], default="blue"),
        release=dict(type="str"),
    )
    run_module(argument_spec, run)


if __name__ == "__main__":
    main()
