#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: surge_handover
short_description: Hand app hosts over from one instance slot's server to the other's, in one call per load balancer
version_added: 0.2.0
description:
  - With C(zerodown_surge) each app host runs two instance slots, and each load balancer has one server per slot and
    host (docs/surge.md). This module makes each host of O(live) serve from the slot it names, in one change per
    load balancer - the live slots' servers into the pool, the other slots' servers drained - then waits until the
    drained servers' in-flight requests are done.
  - Which server is which host's and slot's comes from the plan's map, O(load_balancer.surge) (C(zerodown_plan.lb)
    of a deploy with C(zerodown_surge) on); the load balancer is only given as O(load_balancer), which is required.
  - Before anything changes, every load balancer is read and every host's two servers checked; a server missing, or
    pointing at another port than its slot's, fails the task naming host, load balancer, backend, server and the
    configuration line to add. Nothing is changed then.
  - The servers coming into the pool are set first in the change (one HAProxy runtime API batch, or one rewrite of
    nginx's servers file and one graceful reload) and, on HAProxy, only once their health checks pass (a server in
    maintenance is set to drain first so that it is checked), so at every moment each host has a server taking
    traffic.
  - The same call is the deploy's step (O(live) the new slots), its rollback (O(live) the old slots, O(idle_state=maint)),
    and its decommission (O(live) the new slots again, O(idle_state=maint), before the old slots stop).
  - This is M(zerodown.deploy.drain_backend) with O(zerodown.deploy.drain_backend#module:enable) given the servers of
    the live slots and O(zerodown.deploy.drain_backend#module:servers) the servers of the other slots.
author:
  - zerodown.deploy contributors (@zerodown)
extends_documentation_fragment:
  - zerodown.deploy.attributes
  - zerodown.deploy.lb_description
  - zerodown.deploy.ledger_record
  - zerodown.deploy.drain_wait
attributes:
  check_mode:
    support: full
    details: Reads the live state, checks every host's two servers, and reports what would change with the sessions
      that would have to finish; changes nothing and does not wait.
  diff_mode:
    support: full
    details: As M(zerodown.deploy.drain_backend) - one line per load balancer and server, state and weight before and
      after.
  idempotent:
    support: full
    details: Hosts already served by their live slot, with the other slot's server in O(idle_state), are not changed
      (C(changed=false)).
options:
  live:
    description:
      - "Each inventory host to hand over, and the slot it serves from after the call (a name of
        C(zerodown_surge_slots)), C({app1: b, app2: b})."
      - The servers of the other slot of each of these hosts stop taking new traffic and are waited for.
    type: dict
    required: true
  idle_state:
    description:
      - Where the servers of the slots that stop serving end.
      - V(drained) - drained, their health checks still running, so that handing back (a rollback) is instant; the
        state of the old slots of C(zerodown_standby=keep) until decommission.
      - V(maint) - drained, then in maintenance (health checks stop), before their instances stop (decommission,
        a rollback, C(zerodown_standby=stop)).
    type: str
    choices: [drained, maint]
    default: drained
  moved:
    description:
      - Record the hosts of O(live) as C(moved) in the ledger once their live servers take traffic (a deploy's
        forward step), with O(ledger)'s C(app), C(path), C(run_id), C(servers) and C(current).
      - O(ledger) itself is recorded before the change, as M(zerodown.deploy.drain_backend) does (a deploy gives the
        next batch there, status C(switching), before its new slots start).
      - Requires O(ledger). A rollback records its hosts after the call instead.
    type: bool
    default: false
notes:
  - On nginx a drained server counts as busy until every worker process that ran before the reload has exited (nginx
    open source cannot count sessions per upstream server).
seealso:
  - module: zerodown.deploy.drain_backend
  - module: zerodown.deploy.deploy_plan
"""

EXAMPLES = r"""
- name: Batch 1 moved to slot b on each load balancer; batch 2 recorded as switching before its new slots start
  zerodown.deploy.surge_handover:
    load_balancer: "{{ zerodown_plan.lb }}"
    live: {app1: b, app2: b}
    moved: true
    ledger:
      app: shop
      run_id: "{{ zerodown_plan.run_id }}"
      hosts: [app3, app4]
      status: switching
      current: "2024.06.01-1"
      servers: "{{ zerodown_plan.servers }}"
  delegate_to: "{{ item }}"
  loop: "{{ zerodown_plan.lb_hosts }}"
  run_once: true

- name: Rollback - the old slots serve again, the new ones drained then in maintenance, before they stop
  zerodown.deploy.surge_handover:
    load_balancer: "{{ zerodown_plan.lb }}"
    live: {app1: a, app2: a}
    idle_state: maint
  delegate_to: "{{ item }}"
  loop: "{{ zerodown_plan.lb_hosts }}"
  run_once: true

- name: Without the plan - HAProxy with servers web1/web1_b on ports 8080/8081
  zerodown.deploy.surge_handover:
    load_balancer:
      provider: haproxy
      socket: [/run/haproxy/admin.sock]
      backend: app
      surge:
        slots: [{name: a, port: 8080}, {name: b, port: 8081}]
        servers: {app1: {a: web1, b: web1_b}}
    live: {app1: b}
"""

RETURN = r"""
slots:
  description: Per host of O(live), the slot that serves now and its server, and the other slot and its server.
  returned: always
  type: dict
  sample: {"app1": {"live": "b", "live_server": "app1_b", "idle": "a", "idle_server": "app1"}}
previous:
  description: State and weight of both servers of each host before the call, per load balancer, as
    RV(zerodown.deploy.drain_backend#module:previous) (feed it to M(zerodown.deploy.switch_traffic)'s C(restore)).
  returned: always
  type: dict
  sample: {"/run/haproxy/admin.sock": {"app1": {"state": "ready", "weight": 1}, "app1_b": {"state": "maint", "weight": 1}}}
current:
  description: The same servers after the call, read back (in check mode, what they would be).
  returned: always
  type: dict
  sample: {"/run/haproxy/admin.sock": {"app1": {"state": "drain", "weight": 1}, "app1_b": {"state": "ready", "weight": 1}}}
drain:
  description:
    - What the drain of the idle slots' servers took, as M(zerodown.deploy.drain_backend) returns it -
      C(drain_seconds), C(drained_at), C(sessions_at_start), C(sessions_by_server), C(killed_sessions), C(timed_out),
      and on a drain timeout C(remaining).
  returned: always
  type: dict
  sample: {"drain_seconds": 0.42, "sessions_at_start": 3, "killed_sessions": 0, "timed_out": false}
"""

from ansible_collections.zerodown.deploy.plugins.module_utils import _ledger as ledger  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils._module import run_module  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.drain import WAIT_SPEC  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.surge_handover import IDLE_STATES, run  # noqa: E402


def main():
    argument_spec = dict(
        load_balancer=dict(type="dict", options=lb.ARGUMENT_SPEC["load_balancer"]["options"]),
        ledger=dict(type="dict", options=ledger.RECORD_SPEC),
        live=dict(type="dict", required=True),
        idle_state=dict(type="str", default="drained", choices=list(IDLE_STATES)),
        moved=dict(type="bool", default=False),
        **WAIT_SPEC,
    )
    run_module(argument_spec, run, diff=True)


if __name__ == "__main__":
    main()
