#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deploy_lock
short_description: One deploy per application at a time, with a TTL and an audited force break
version_added: 0.1.0
description:
  - Acquires, releases or inspects a deploy lock kept on the host the module runs on (normally the
    load-balancer host, so that every controller sees the same lock).
  - The lock is a JSON file C(<path>/<app>/deploy.lock) (mode 0600, in a 0700 directory) recording the
    owner, the controller host, the release, the start time, the TTL and the run id. It appears
    atomically, complete, or not at all.
  - A second deploy fails fast with the holder's owner, release, age and time to expiry.
  - A lock past its TTL is taken over; a live lock can be broken with O(force=true). Every acquire,
    refresh, release, takeover and force break is appended to the audit log C(<path>/<app>/audit.log)
    (who took over from whom, and when).
  - The run holding the lock keeps it past its TTL with O(state=refreshed) (for example between the phases
    of a long deploy); acquiring again with the same O(run_id) after the TTL, before anyone took it over,
    refreshes it too.
  - The lock file is read back with its schema checked. A file that is not a lock zerodown wrote
    (not JSON, wrong field types, truncated, too large) is refused with the file, the field and the fix;
    O(force=true) breaks it like a live lock, audited, and keeps the bad file beside it as
    C(deploy.lock.corrupt-<time>).
  - A run killed mid-deploy (SIGKILL of C(ansible-playbook), a controller that rebooted) leaves its lock behind.
    When an acquire with O(controller_process) is refused by a holder from the same controller whose recorded
    C(ansible-playbook) process is gone there, the action plugin takes the lock over at once with O(force) and
    the reason in the audit log; a holder on another controller, or one still running, keeps it until its TTL (or a
    deliberate O(force=true)). The recovery is then C(zerodown.deploy.rollback), which works from the ledger.
  - With O(ledger), the deploy ledger kept in the same directory (see M(zerodown.deploy.deploy_ledger)) is started
    with the lock or finished before it is given back, in the same call, so that a deploy's first and last steps on
    the lock host are one round trip each.
author:
  - zerodown.deploy contributors (@zerodown)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reports what would happen (including a refusal naming the holder) and writes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details: Acquiring a lock the same O(run_id) already holds, or releasing a lock that is not there, changes nothing.
options:
  app:
    description: Application name; one lock per application. Letters, digits, C(.), C(_), C(-).
    type: str
    required: true
  state:
    description:
      - C(acquired) takes the lock (or takes over a stale one); C(released) gives it back;
        C(query) only reports the current holder.
      - C(refreshed) moves the expiry of the lock O(run_id) holds to now + O(ttl); it fails, naming the holder,
        when this run no longer holds the lock (taken over after its TTL, broken, released).
    type: str
    choices: [acquired, released, query, refreshed]
    default: acquired
  run_id:
    description:
      - Identifies one deploy run; the run that acquired the lock is the only one that may release it
        without O(force). Required for O(state=acquired), O(state=refreshed) and O(state=released).
    type: str
  owner:
    description: Who deploys (a person or a CI job), shown to anyone refused by the lock.
    type: str
  controller:
    description: The controller host running the deploy, shown to anyone refused by the lock.
    type: str
  release:
    description: The release being deployed, shown to anyone refused by the lock.
    type: str
  ttl:
    description:
      - Seconds after which the lock counts as stale and the next deploy takes it over (logged).
        Choose more than the worst-case length of a deploy, or refresh the lock between phases.
      - Defaults to 3600 when acquiring; with O(state=refreshed), to the TTL the lock was taken with.
    type: int
  controller_process:
    description:
      - The deploy's C(ansible-playbook) process on the controller, as C(<pid>:<start time>) (the deploy plan's
        C(controller_process)); recorded in the lock.
      - The action plugin uses it when a later acquire from the same controller is refused. A holder whose process
        is gone there died (killed, the controller rebooted), so its lock is taken over at once, audited with
        the reason, instead of waiting for the TTL.
    type: str
  reason:
    description: Why O(force) breaks the lock, written to the audit log with the break.
    type: str
  force:
    description:
      - Break a live lock held by another run (when acquiring or releasing). The break is written to
        the audit log with both parties.
    type: bool
    default: false
  path:
    description: Directory holding one sub-directory per application.
    type: path
    default: /var/lib/zerodown
  ledger:
    description:
      - With O(state=acquired), start the ledger of O(run_id) (of O(release)) once the lock is held, as
        M(zerodown.deploy.deploy_ledger) with C(state=started) does; with O(load_balancer), that load balancer is read
        before the lock is taken and its state recorded as the state before the first change. An unreachable load
        balancer or a missing server fails the task with nothing changed (no lock taken); a ledger that cannot be
        written gives back the lock this call took.
      - With O(state=released), finish the ledger with O(ledger.outcome) before the lock is given back. If the ledger
        cannot be finished the task fails and the lock stays held by this run, so that nothing is lost; the next
        call of the same run can retry.
      - Not with O(state=query) or O(state=refreshed).
    type: dict
    suboptions:
      plan:
        description: Plan details stored with the ledger's start (as C(plan) of M(zerodown.deploy.deploy_ledger)).
        type: dict
      phase:
        description: Name of the phase that starts with the ledger.
        type: str
      outcome:
        description:
          - How the deploy ended, as C(outcome) of M(zerodown.deploy.deploy_ledger) (C(completed) is C(succeeded)
            when the run moved a host, C(unchanged) otherwise). Required with O(state=released).
        type: str
        choices: [succeeded, completed, unchanged, rolled_back, failed, planned]
      cause:
        description: Why the deploy failed (with O(state=released)).
        type: str
extends_documentation_fragment:
  - zerodown.deploy.lb_description
"""

EXAMPLES = r"""
- name: Take the deploy lock on the load balancer
  zerodown.deploy.deploy_lock:
    app: shop
    run_id: "{{ zerodown_plan.run_id }}"
    owner: "{{ lookup('ansible.builtin.env', 'USER') }}"
    controller: "{{ lookup('ansible.builtin.pipe', 'hostname') }}"
    release: "2024.06.01-1"
    ttl: 1800
  delegate_to: "{{ groups['lb'][0] }}"
  run_once: true

- name: Who holds the lock?
  zerodown.deploy.deploy_lock:
    app: shop
    state: query
  register: lock

- name: Between phases, keep the lock for another TTL (fails if this run lost it)
  zerodown.deploy.deploy_lock:
    app: shop
    state: refreshed
    run_id: "{{ zerodown_plan.run_id }}"

- name: Take the lock and start the ledger with the load balancer's state, in one call (zerodown.deploy.deploy does)
  zerodown.deploy.deploy_lock:
    app: shop
    run_id: "{{ zerodown_plan.run_id }}"
    release: "2024.06.01-1"
    load_balancer: "{{ zerodown_plan.lb }}"
    ledger:
      plan: "{{ zerodown_plan }}"
      phase: stage
  delegate_to: "{{ zerodown_plan.lock_host }}"
  run_once: true

- name: Finish the ledger and give the lock back, in one call
  zerodown.deploy.deploy_lock:
    app: shop
    state: released
    run_id: "{{ zerodown_plan.run_id }}"
    ledger:
      outcome: completed
  register: finished

- name: Release it
  zerodown.deploy.deploy_lock:
    app: shop
    state: released
    run_id: "{{ zerodown_plan.run_id }}"

- name: Break a lock left by a crashed controller (audited)
  zerodown.deploy.deploy_lock:
    app: shop
    state: released
    force: true
    owner: ops-oncall
"""

RETURN = r"""
lock:
  description: The lock as it is after the call (null when no lock is held).
  returned: always
  type: dict
  sample:
    owner: alice
    controller: ctl1
    release: "2024.06.01-1"
    run_id: 5f1c0e
    pid: 4242
    ttl: 1800
    started_at: "2024-06-01T10:00:00Z"
    expires_at: "2024-06-01T10:30:00Z"
action:
  description: What was (or in check mode would be) done.
  returned: always
  type: str
  sample: takeover
  choices: [none, create, takeover, force_break, refresh, release, query]
previous_holder:
  description:
    - The lock replaced or removed by this call (stale or broken holder), if any.
    - For a lock file that could not be read and was broken with O(force), C(corrupt) (what was wrong), C(file),
      C(size), C(sha256) and C(moved_to) (where the bad file was kept) instead.
  returned: always
  type: dict
holder:
  description: The current holder when the lock was refused, with O(owner), O(release), RV(age), RV(expires_in).
  returned: failure
  type: dict
held:
  description: Whether a lock is held after the call (for O(state=query), whether one is held now).
  returned: always
  type: bool
expired:
  description: Whether the lock found is past its TTL.
  returned: always
  type: bool
age:
  description: Seconds since the current lock was taken.
  returned: when a lock is held
  type: int
expires_in:
  description: Seconds until the current lock counts as stale (negative when already past it).
  returned: when a lock is held
  type: int
audit:
  description: The audit-log entry written by this call.
  returned: when changed and not in check mode
  type: dict
ledger:
  description: With O(ledger), the ledger after the call, as RV(zerodown.deploy.deploy_ledger#module:ledger).
  returned: with O(ledger)
  type: dict
moved_hosts:
  description: With O(ledger), the hosts the run moved, as RV(zerodown.deploy.deploy_ledger#module:moved_hosts).
  returned: with O(ledger)
  type: list
  elements: str
phase_seconds:
  description: With O(ledger), seconds per phase, as RV(zerodown.deploy.deploy_ledger#module:phase_seconds).
  returned: with O(ledger)
  type: dict
summary:
  description: With O(ledger), the run in a few keys for C(set_stats), as
    RV(zerodown.deploy.deploy_ledger#module:summary).
  returned: with O(ledger)
  type: dict
summary_lines:
  description: With O(ledger), RV(summary) as lines for a person.
  returned: with O(ledger)
  type: list
  elements: str
"""

from ansible_collections.zerodown.deploy.plugins.module_utils import _ledger as ledgers  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils._deploy_lock import run  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils._module import run_module  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb  # noqa: E402


def main():
    argument_spec = dict(
        app=dict(type="str", required=True),
        state=dict(type="str", choices=["acquired", "released", "query", "refreshed"], default="acquired"),
        run_id=dict(type="str"),
        owner=dict(type="str"),
        controller=dict(type="str"),
        controller_process=dict(type="str"),
        reason=dict(type="str"),
        release=dict(type="str"),
        ttl=dict(type="int"),
        force=dict(type="bool", default=False),
        path=dict(type="path", default="/var/lib/zerodown"),
        load_balancer=dict(type="dict", options=lb.ARGUMENT_SPEC["load_balancer"]["options"]),
        ledger=dict(
            type="dict",
            options=dict(
                plan=dict(type="dict"),
                phase=dict(type="str"),
                outcome=dict(type="str", choices=ledgers.FINISH_OUTCOMES),
                cause=dict(type="str"),
            ),
        ),
    )
    run_module(argument_spec, run, required_if=[("state", "acquired", ["run_id"]), ("state", "refreshed", ["run_id"])])


if __name__ == "__main__":
    main()
