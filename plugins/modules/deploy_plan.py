#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deploy_plan
short_description: Validate the deploy variables once and compute the whole deploy plan on the controller
version_added: 0.2.0
description:
  - Reads the deploy variables (C(zerodown_*)) of the host it runs for, resolves the host patterns
    C(zerodown_app_hosts), C(zerodown_lb_hosts) and C(zerodown_db_hosts) against the inventory and returns the plan as
    the fact C(zerodown_plan). With C(run_once) the fact is set on every host of the play, and every later play of
    C(zerodown.deploy.deploy), C(rollback) and C(contract) reads it; nothing else computes any part of it.
  - The plan holds the run id, owner and controller; the strategy and the role that runs it; the batches; the map
    from inventory host to backend server; the load balancer (C(zerodown_lb), or the older C(zerodown_haproxy_*)
    shorthand) as one value to pass to the modules' O(zerodown.deploy.switch_traffic#module:load_balancer) option;
    the lock host and state directory; the worst-case duration and lock TTL; the artifact's sha256 (checked here for a
    file on the controller); the migration source; the lifecycle hooks.
  - Every problem in the variables is reported in one message, before anything changes anywhere. It is an action
    plugin; nothing is sent to any host.
author:
  - zerodown.deploy contributors (@zerodown)
options:
  mode:
    description:
      - V(deploy) validates everything a deploy needs (artifact, command, strategy).
      - V(rollback) and V(contract) need only the application, the hosts and the load balancer.
    type: str
    choices: [deploy, rollback, contract]
    default: deploy
  run_id:
    description: The run id to use (default a new one, C(<UTC time>-<random>)).
    type: str
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: It changes nothing in any mode; check mode computes the same plan.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: all
notes:
  - The variables it reads are listed in the C(zerodown.deploy) README's variables table and in
    C(docs/deploy.md); the strategy roles' C(meta/argument_specs.yml) document the ones each role takes.
seealso:
  - module: zerodown.deploy.deploy_ledger
  - module: zerodown.deploy.switch_traffic
"""

EXAMPLES = r"""
- name: Plan the deploy (sets zerodown_plan on every host of the play)
  zerodown.deploy.deploy_plan:
  run_once: true

- name: Show it
  ansible.builtin.debug:
    msg: "{{ zerodown_plan.summary }}"
  run_once: true

- name: Drain the first batch on every load-balancer host, with the load balancer the plan describes
  zerodown.deploy.drain_backend:
    load_balancer: "{{ zerodown_plan.lb }}"
    servers: "{{ zerodown_plan.batches[0] | map('extract', zerodown_plan.servers) }}"
  delegate_to: "{{ item }}"
  loop: "{{ zerodown_plan.lb_hosts }}"
  run_once: true
"""

RETURN = r"""
plan:
  description: The plan; also set as the fact C(zerodown_plan).
  returned: success
  type: dict
  contains:
    run_id:
      description: This run's id (the lock and the ledger are keyed by it).
      type: str
    strategy:
      description: C(rolling), C(blue_green) or C(canary).
      type: str
    role:
      description: The role that runs the strategy, e.g. C(zerodown.deploy.rolling).
      type: str
    app_hosts:
      description: The app hosts, in inventory order.
      type: list
      elements: str
    lb_hosts:
      description: The load-balancer hosts; the first is RV(plan.lock_host).
      type: list
      elements: str
    lock_host:
      description: Where the lock and the ledger live.
      type: str
    lb:
      description: The load balancer, for the modules' C(load_balancer) option (provider, socket or nginx, backend, servers).
      type: dict
    servers:
      description: Inventory host to backend server name.
      type: dict
    batches:
      description: The app hosts by batch.
      type: list
      elements: list
    worst_case_seconds:
      description: How long the deploy can take before its timeouts stop it.
      type: int
    summary:
      description: The plan in a few lines, as check mode prints it.
      type: list
      elements: str
problems:
  description: Every problem found in the variables.
  returned: failure
  type: list
  elements: str
"""
