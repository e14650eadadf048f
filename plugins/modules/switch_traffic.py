#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: switch_traffic
short_description: Set the state and weight of many load-balancer servers in one step, and put them back exactly
version_added: 0.1.0
description:
  - Sets the state (V(ready), V(drain), V(maint)) and weight of many servers of one backend on one or many load
    balancers in one call, for canary steps (weights, percentages), blue-green switches (O(active) / O(standby))
    and rollbacks (O(restore)).
  - Always returns RV(previous), the state and weight of every server of the backend on every load balancer before
    the call; a later call with O(restore) set to that value puts everything back exactly.
  - With none of O(servers), O(active), O(standby), O(restore) the module only reads and reports (RV(current),
    RV(serving)), for instance to find which blue-green colour is live.
  - Every load balancer is reached and every name, state and weight checked before the first change. On HAProxy the
    changes of one load balancer go in one runtime API batch, ordered so that servers gaining traffic are enabled
    before servers losing it; on nginx they are one rewrite of the servers file and one graceful reload.
  - If a load balancer fails part way, the ones already changed are put back as they were and the task fails.
  - Draining the servers that lose traffic (waiting for their in-flight requests) is M(zerodown.deploy.drain_backend)'s
    job; this module does not wait.
author:
  - zerodown.deploy contributors (@zerodown)
extends_documentation_fragment:
  - zerodown.deploy.load_balancer
  - zerodown.deploy.lb_description
  - zerodown.deploy.ledger_record
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads the live state, validates and reports RV(changes) and RV(current) as they would be; changes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: One line per load balancer and server, with its state and weight before and after.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details: Servers already in the requested state and weight are not touched; C(changed=false) when nothing differs.
options:
  servers:
    description:
      - Server name to what it should become, a dict with C(state) and/or C(weight), applied on every load balancer.
      - C(state) is V(ready), V(drain) or V(maint).
      - C(weight) for HAProxy is an integer 0-256 or a percentage V(N%) of the server's configured weight (canary
        steps); for nginx an integer of 1 or more.
      - "Example: C({web1: {state: ready, weight: 10}, canary1: {weight: '5%'}})."
    type: dict
  active:
    description:
      - Blue-green, servers that must take traffic; they are set V(ready) (enabled first).
    type: list
    elements: str
  standby:
    description:
      - Blue-green, servers that must stop taking traffic; they are set to O(standby_state) (after the active ones are
        enabled).
    type: list
    elements: str
  standby_state:
    description:
      - State given to O(standby) servers. V(drain) keeps health checks running, so the standby colour can be switched
        back at once.
    type: str
    choices: [drain, maint]
    default: drain
  restore:
    description:
      - A RV(previous) value from an earlier call of this module or of M(zerodown.deploy.drain_backend), that is, a
        load balancer (socket, or nginx servers file) to a server to its V(state) and V(weight). Every server listed is
        put back exactly; load balancers must be among those given in O(socket) (or O(nginx)).
      - Cannot be combined with O(servers), O(active) or O(standby).
    type: dict
  healthy_timeout:
    description:
      - When the change takes traffic away from some servers (a blue-green switch, a canary step that sets the
        baseline's weight to 0), first wait up to this many seconds until the servers that take it over pass their
        health checks (HAProxy's operational state), so that no moment leaves nothing serving; such a server in
        V(maint) is set to V(drain) first, so that HAProxy checks it. Still unhealthy after it - the task fails and
        the traffic is not moved. nginx reports no health; its servers count as healthy.
    type: float
    default: 30.0
  restore_ledger:
    description:
      - Put every server back to the state the deploy ledger on this host captured before the deploy's first change
        (see M(zerodown.deploy.deploy_ledger)), less the servers of hosts that went back to nothing (they stay out).
        A rollback's last step, one call per load-balancer host, each to its own captured state.
      - Cannot be combined with O(restore), O(servers), O(active) or O(standby).
    type: dict
    suboptions:
      app:
        description: Application name of the ledger.
        type: str
        required: true
      path:
        description: Directory holding one sub-directory per application.
        type: path
        default: /var/lib/zerodown
      hold:
        description:
          - A rollback's first step instead of its last - only the servers of the hosts that did not move go back to
            their captured state; the servers of the hosts the deploy moved (and has not rolled back yet) are left as
            they are, never given more traffic than they have - they take traffic again only once their host is back
            and ready on its old release (the rolling role's C(rollback) entry point).
        type: bool
        default: false
      drain_moved:
        description:
          - Implies O(restore_ledger.hold), and the servers of the moved hosts go to V(drain) in the same call, on
            each load balancer where a server that did not move goes on serving (never all of them at once) - a
            canary or blue-green rollback gives the baseline or the old colour its traffic back and takes every moved
            host out at once, so that no moment leaves nothing serving, and no half-switched host serves.
        type: bool
        default: false
"""

EXAMPLES = r"""
- name: Which colour is live?
  zerodown.deploy.switch_traffic:
    socket: /run/haproxy/admin.sock
    backend: app
  register: lb_state

- name: Blue-green switch on two HAProxy processes of this load-balancer host, remembering the state before
  zerodown.deploy.switch_traffic:
    socket: [/run/haproxy/admin.sock, /run/haproxy/admin-2.sock]
    backend: app
    active: [green1, green2]
    standby: [blue1, blue2]
  register: switch

- name: Canary step, 5 % of the canary's configured weight
  zerodown.deploy.switch_traffic:
    socket: /run/haproxy/admin.sock
    backend: app
    servers:
      canary1: {state: ready, weight: "5%"}

- name: Roll back the load balancers exactly
  zerodown.deploy.switch_traffic:
    socket: [/run/haproxy/admin.sock, /run/haproxy/admin-2.sock]
    backend: app
    restore: "{{ switch.previous }}"

- name: nginx, weights in the upstream's include file
  zerodown.deploy.switch_traffic:
    provider: nginx
    nginx:
      conf: /etc/nginx/nginx.conf
      servers_file: /etc/nginx/zerodown/app.servers
    backend: app
    servers:
      "10.0.0.11:8080": {weight: 1}
      "10.0.0.12:8080": {weight: 19}
"""

RETURN = r"""
previous:
  description: State and weight of every server of the backend on every load balancer before the call, keyed by load
    balancer (socket address or nginx servers file), then server. Pass it as O(restore) to undo.
  returned: always
  type: dict
  sample: {"/run/haproxy/admin.sock": {"blue1": {"state": "ready", "weight": 10}, "green1": {"state": "drain", "weight": 10}}}
current:
  description: The same after the call, read back from the load balancers (in check mode, as it would be).
  returned: always
  type: dict
  sample: {"/run/haproxy/admin.sock": {"blue1": {"state": "drain", "weight": 10}, "green1": {"state": "ready", "weight": 10}}}
changes:
  description: What was (or in check mode would be) changed, per load balancer and server; weights are absolute.
  returned: always
  type: dict
  sample: {"/run/haproxy/admin.sock": {"blue1": {"state": "drain"}, "green1": {"state": "ready"}}}
serving:
  description: Per load balancer, the servers that take new traffic after the call (state V(ready), weight above 0).
  returned: always
  type: dict
  sample: {"/run/haproxy/admin.sock": ["green1"]}
"""

from ansible_collections.zerodown.deploy.plugins.module_utils import _ledger as ledger  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils._module import run_module  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.switch import run  # noqa: E402


def main():
    argument_spec = dict(lb.ARGUMENT_SPEC)
    argument_spec.update(
        ledger=dict(type="dict", options=ledger.RECORD_SPEC),
        servers=dict(type="dict"),
        active=dict(type="list", elements="str"),
        standby=dict(type="list", elements="str"),
        standby_state=dict(type="str", default="drain", choices=["drain", "maint"]),
        restore=dict(type="dict"),
        healthy_timeout=dict(type="float", default=lb.HEALTHY_TIMEOUT),
        restore_ledger=dict(
            type="dict",
            options=dict(
                app=dict(type="str", required=True),
                path=dict(type="path", default="/var/lib/zerodown"),
                hold=dict(type="bool", default=False),
                drain_moved=dict(type="bool", default=False),
            ),
        ),
    )
    run_module(
        argument_spec,
        run,
        diff=True,
        mutually_exclusive=[
            ["restore", "servers"],
            ["restore", "active"],
            ["restore", "standby"],
            ["restore_ledger", "restore"],
            ["restore_ledger", "servers"],
            ["restore_ledger", "active"],
            ["restore_ledger", "standby"],
        ],
    )


if __name__ == "__main__":
    main()
