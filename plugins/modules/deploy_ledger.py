#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deploy_ledger
short_description: The record of what a deploy moved, kept next to the deploy lock
version_added: 0.1.0
description:
  - Keeps the deploy ledger C(<path>/<app>/ledger.json) on the host the module runs on (the load-balancer
    host, next to the M(zerodown.deploy.deploy_lock) lock) - what each host ran before the deploy, what it
    runs now, the load-balancer state captured before the first change, per-batch progress, the phase
    timeline and the outcome.
  - Because it lives outside any play's memory it survives C(serial) batches and a crashed controller; the
    rescue of C(deploy.yml) and C(rollback.yml) read it to roll back every host the deploy moved.
  - Starting a new run keeps the last ledger as C(ledger.previous.json). Files are mode 0600 in a 0700
    directory, written atomically.
  - With O(state=started) and O(load_balancer), the load balancer on this host is read first and its state is
    recorded as RV(ledger.lb_state), keyed by load balancer, before the first change, with the HAProxy processes it
    was read from in RV(ledger.lb_process) (the deploy's later steps stop if one was reloaded or restarted); every
    server named in its C(servers) map must exist. This is the deploy's preflight of the load balancer; nothing is written if it fails.
author:
  - zerodown.deploy contributors (@zerodown)
extends_documentation_fragment:
  - zerodown.deploy.lb_description
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: partial
    details: Recording the same facts again changes nothing; naming a new O(phase) or O(batch) is a change by design.
options:
  app:
    description: Application name (the same as for M(zerodown.deploy.deploy_lock)).
    type: str
    required: true
  state:
    description:
      - C(started) begins the ledger of run O(run_id) (no change if this run already started it).
      - C(recorded) merges O(hosts), O(batch), O(phase), O(lb_state) and O(cause) into the run's ledger.
      - C(finished) records O(outcome) (and O(cause)) and closes the phase timeline.
      - C(query) returns the ledger without changing it.
    type: str
    choices: [started, recorded, finished, query]
    default: recorded
  run_id:
    description: The deploy run the ledger belongs to; required except for O(state=query).
    type: str
  release:
    description: The release being deployed (with O(state=started)).
    type: str
  lb_state:
    description:
      - The load-balancer state before the first change, as returned by M(zerodown.deploy.switch_traffic)
        in its read-only mode; recorded once, never overwritten.
    type: raw
  hosts:
    description:
      - The hosts to record, as a list of inventory host names, a list of C(zerodown_release_state) facts (as the
        C(zerodown.deploy.release) action sets them; their C(host) and C(previous) are recorded), or a dict of host
        to any of C(previous) (release it ran before this deploy, null if none; the first value recorded is kept),
        C(current), C(server) (backend server name), C(status) and C(batch).
      - O(status), O(current), O(batch) and each host's server from O(servers) are added to every host that does not
        set them itself, so a playbook never builds this map.
    type: raw
  status:
    description: Status recorded for every host in O(hosts).
    type: str
    choices: [staged, switching, moved, rolled_back, removed, unchanged, failed, unreachable]
  current:
    description: Release recorded as the current one of every host in O(hosts).
    type: str
  servers:
    description: Inventory host to backend server name (C(zerodown_plan.servers)); each host's server is recorded.
    type: dict
  batch:
    description: Number of the batch the O(hosts) belong to; appended to the per-batch progress.
    type: int
  phase:
    description:
      - Name of the phase starting now; the previous phase ends now.
      - A new phase also refreshes the deploy lock O(run_id) holds in the same directory (its own TTL, from now;
        audited), in this same call, so the lock lasts as long as the deploy makes progress. A lock held by
        another run is left alone.
    type: str
  outcome:
    description:
      - With O(state=finished), how the deploy ended.
      - A run that changed no host (nothing to do, or stopped before its first change) puts the ledger of the last
        real deploy back in place (and keeps its own as C(ledger.last-noop.json)), so that C(rollback.yml) after it
        still returns the fleet to what it ran before that deploy.
      - C(completed) is C(succeeded) when the run moved a host, C(unchanged) otherwise.
    type: str
    choices: [succeeded, completed, unchanged, rolled_back, failed, planned]
  cause:
    description: Why the deploy failed (the first cause recorded is kept).
    type: str
  plan:
    description: Free-form plan details stored with O(state=started) (batches, timeouts).
    type: dict
  path:
    description: Directory holding one sub-directory per application.
    type: path
    default: /var/lib/zerodown
"""

EXAMPLES = r"""
- name: Start the ledger with the load-balancer state captured before the first change
  zerodown.deploy.deploy_ledger:
    app: shop
    state: started
    run_id: "{{ zerodown_plan.run_id }}"
    release: "2024.06.01-1"
    lb_state: "{{ lb_before.current }}"
  delegate_to: "{{ groups['lb'][0] }}"
  run_once: true

- name: Record the batch about to switch (before the switch, so a crash cannot hide it)
  zerodown.deploy.deploy_ledger:
    app: shop
    run_id: "{{ zerodown_plan.run_id }}"
    batch: 2
    phase: batch 2
    hosts: [app3, app4]
    status: switching
    current: "2024.06.01-1"
    servers: "{{ zerodown_plan.servers }}"
  delegate_to: "{{ zerodown_plan.lock_host }}"
  run_once: true

- name: Read it (rollback.yml does this)
  zerodown.deploy.deploy_ledger:
    app: shop
    state: query
  register: ledger
"""

RETURN = r"""
ledger:
  description: The ledger after the call (null for O(state=query) when there is none).
  returned: always
  type: dict
  contains:
    run_id:
      description: The run the ledger belongs to.
      type: str
    release:
      description: The release deployed.
      type: str
    outcome:
      description: C(running), C(succeeded), C(rolled_back), C(failed) or C(planned).
      type: str
    cause:
      description: Why the deploy failed.
      type: str
    lb_state:
      description: Load-balancer state captured before the first change.
      type: raw
    lb_process:
      description: Per HAProxy, the C(pid) and C(started) (epoch seconds) of the process RV(ledger.lb_state) was read
        from; null where not captured.
      type: dict
    hosts:
      description: Per host, C(previous), C(current), C(server), C(status), C(batch).
      type: dict
    batches:
      description: Per batch, its number, hosts and start time.
      type: list
      elements: dict
    phases:
      description: Phase timeline (name, start, end, seconds).
      type: list
      elements: dict
moved_hosts:
  description: Hosts whose release this run changed (or began to change) and not yet rolled back.
  returned: always
  type: list
  elements: str
phase_seconds:
  description: Seconds spent per phase name (closed phases only).
  returned: always
  type: dict
lock_expires_at:
  description: When the deploy lock O(run_id) holds now expires (UTC), after a O(phase) refreshed it.
  returned: when O(phase) refreshed the lock
  type: str
summary:
  description:
    - The run in a few keys, for C(set_stats) (AWX / Automation Controller job artifacts) - C(zerodown_release),
      C(zerodown_run_id), C(zerodown_outcome), C(zerodown_cause), C(zerodown_duration), C(zerodown_phase_seconds),
      C(zerodown_hosts) (host to the release it runs).
  returned: except with O(state=query)
  type: dict
summary_lines:
  description: RV(summary) as lines for a person.
  returned: except with O(state=query)
  type: list
  elements: str
rollback:
  description:
    - What a rollback of this ledger does and in which order (with O(state=query)); C(zerodown.deploy.rolling)'s
      C(rollback) entry point, which every strategy's rollback uses, follows it - first RV(rollback.hold), then
      RV(rollback.batches), then RV(rollback.restore) - so that no server takes traffic before its host answers
      ready on the release it serves from then on. Only C(error) when the ledger's load-balancer state cannot be
      read back.
  returned: when O(state=query) and a ledger exists
  type: dict
  contains:
    hold:
      description:
        - The first step, one call per load balancer - the servers of the hosts that did not move at their captured
          state; the moved hosts' servers are not listed (left as they are). M(zerodown.deploy.switch_traffic)'s
          O(zerodown.deploy.switch_traffic#module:restore_ledger.hold) computes it on each load-balancer host from its
          own ledger.
      type: dict
    batches:
      description:
        - The moved hosts by batch, the last batch first, each with its C(servers) (drained first), C(ready) (back
          in the pool once their hosts are back, those captured taking traffic) and C(maint) (hosts that go back to
          nothing).
      type: list
      elements: dict
    hosts:
      description: Per moved host, C(to) (the release to return to; null means it ran nothing before) and C(server).
      type: dict
    restore:
      description: RV(ledger.lb_state) less the servers of hosts that go back to nothing (they stay out of the pool).
      type: dict
"""

from ansible_collections.zerodown.deploy.plugins.module_utils._ledger import (  # noqa: E402
    FINISH_OUTCOMES,
    HOST_STATUSES,
    run,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._module import run_module  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb  # noqa: E402


def main():
    argument_spec = dict(
        app=dict(type="str", required=True),
        state=dict(type="str", choices=["started", "recorded", "finished", "query"], default="recorded"),
        run_id=dict(type="str"),
        release=dict(type="str"),
        lb_state=dict(type="raw"),
        load_balancer=dict(type="dict", options=lb.ARGUMENT_SPEC["load_balancer"]["options"]),
        hosts=dict(type="raw"),
        status=dict(type="str", choices=list(HOST_STATUSES)),
        current=dict(type="str"),
        servers=dict(type="dict"),
        batch=dict(type="int"),
        phase=dict(type="str"),
        outcome=dict(type="str", choices=FINISH_OUTCOMES),
        cause=dict(type="str"),
        plan=dict(type="dict"),
        path=dict(type="path", default="/var/lib/zerodown"),
    )
    required_if = [
        ("state", "started", ["run_id"]),
        ("state", "recorded", ["run_id"]),
        ("state", "finished", ["run_id", "outcome"]),
    ]
    run_module(argument_spec, run, required_if=required_if)


if __name__ == "__main__":
    main()
