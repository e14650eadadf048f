#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: drain_backend
short_description: Take servers out of a load balancer and wait until their last request is done
version_added: 0.1.0
description:
  - Drains one or many servers of one backend on one or many load balancers (HAProxy peers, or nginx) in one call,
    then waits until none of them has an active session or a queued request left, polling every O(poll_interval)
    seconds (not a fixed sleep), so it returns as soon as the last in-flight request ends.
  - O(state=drained) puts each server in HAProxy's C(drain) state (no new connections, in-flight requests finish);
    O(state=maint) drains first, waits, then puts the server in maintenance (health checks stop too);
    O(state=ready) puts the servers back into rotation, with no wait.
  - Before anything changes, every load balancer is reached and every name checked (backend, servers, characters
    allowed in names). One failure, and no load balancer is touched.
  - When O(timeout) passes with requests still running, O(on_timeout=fail) fails (the servers stay drained; the
    result still has RV(previous) to restore them), O(on_timeout=shutdown) kills the remaining sessions
    (HAProxy C(shutdown sessions server), or a fast stop of nginx's old worker processes) and reports how many in
    RV(killed_sessions).
  - A server that is already in maintenance counts as drained for O(state=drained) and is left as it is.
  - With cookie or stick-table persistence (or C(use-server) rules), HAProxy keeps sending the clients pinned to a
    drained server there; the drain then lasts until they stop or O(timeout) passes.
  - With O(enable), the servers of the batch that just moved go back into the pool in the same call, before the
    drain of O(servers) (the next batch), so that the step between two batches of a rolling deploy is one call per
    load balancer instead of two. On HAProxy both changes are one runtime API batch (the servers coming back first), on
    nginx one rewrite and one reload.
author:
  - zerodown.deploy contributors (@zerodown)
extends_documentation_fragment:
  - zerodown.deploy.load_balancer
  - zerodown.deploy.lb_description
  - zerodown.deploy.ledger_record
  - zerodown.deploy.drain_wait
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads the live state and reports what would change (with the sessions that would have to finish);
      changes nothing and does not wait.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: One line per load balancer and server, with its state and weight before and after.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details: Servers already in the requested state are not changed (C(changed=false)); the module still waits for
      their remaining sessions when draining.
options:
  server:
    description:
      - One server to drain. Exactly one of O(server) and O(servers) is required.
    type: str
  servers:
    description:
      - Several servers of O(backend) to drain together; they are drained at the same time and the module waits for
        all of them.
    type: list
    elements: str
  state:
    description:
      - V(drained) stops new traffic and waits until in-flight requests are done.
      - V(maint) does the same, then puts the servers in maintenance.
      - V(ready) puts the servers back in rotation.
    type: str
    choices: [drained, maint, ready]
    default: drained
  enable:
    description:
      - Servers of O(backend) to put back into rotation (state C(ready)) in the same call, before O(servers) are
        drained. When a server of O(servers) stops taking new traffic in that change, the change waits (up to
        O(healthy_timeout)) until HAProxy's health checks pass on every O(enable.servers), so that the pool never
        loses the batch that comes back and the batch that leaves at the same time.
      - With O(enable), O(servers) may be empty (after the last batch, nothing drains).
      - Not with O(state=ready).
    type: dict
    suboptions:
      servers:
        description: The servers to put back into rotation; none of them may be in O(servers).
        type: list
        elements: str
        required: true
      hosts:
        description:
          - With O(ledger), the inventory hosts of O(enable.servers), recorded with status C(moved) (and
            O(ledger.current), each host's server from O(ledger.servers)) once their servers are back in rotation.
            The drain's record (O(ledger)) is written after that, before the drain.
          - With an empty O(servers), O(ledger) only gives this record its C(app), C(path), C(run_id),
            C(servers) and C(current).
        type: raw
"""

EXAMPLES = r"""
- name: Drain web1 on each load-balancer host's HAProxy (its unix socket) before stopping it
  zerodown.deploy.drain_backend:
    socket: /run/haproxy/admin.sock
    backend: app
    server: web1
    timeout: 120
  delegate_to: "{{ item }}"
  loop: "{{ groups['lb'] }}"
  register: drain

- name: Drain a batch, cutting off whatever is left after 30 s
  zerodown.deploy.drain_backend:
    socket: /run/haproxy/admin.sock
    backend: app
    servers: "{{ batch }}"
    timeout: 30
    on_timeout: shutdown

- name: Back in rotation
  zerodown.deploy.drain_backend:
    socket: /run/haproxy/admin.sock
    backend: app
    servers: "{{ batch }}"
    state: ready

- name: Between two batches - the moved batch back into rotation, the next one drained, both in the ledger
  zerodown.deploy.drain_backend:
    socket: /run/haproxy/admin.sock
    backend: app
    enable:
      servers: [web1]
      hosts: [app1]
    servers: [web2]
    ledger:
      app: shop
      run_id: "{{ zerodown_plan.run_id }}"
      hosts: [app2]
      status: switching
      current: "2024.06.01-1"
      batch: 2
      phase: batch 2
      servers: "{{ zerodown_plan.servers }}"

- name: Drain an nginx upstream server (rewrites the include file, nginx -t, graceful reload)
  zerodown.deploy.drain_backend:
    provider: nginx
    nginx:
      conf: /etc/nginx/nginx.conf
      servers_file: /etc/nginx/zerodown/app.servers
    backend: app
    server: 10.0.0.11:8080
"""

RETURN = r"""
previous:
  description: State and weight of each named server (O(servers) and O(enable.servers)) before the call, per load balancer (socket or nginx servers
    file). Feed it to M(zerodown.deploy.switch_traffic) O(zerodown.deploy.switch_traffic#module:restore) to put the
    servers back exactly.
  returned: always
  type: dict
  sample: {"/run/haproxy/admin.sock": {"web1": {"state": "ready", "weight": 10}}}
current:
  description: State and weight of each named server after the call, read back from the load balancer (in check
    mode, what they would be).
  returned: always
  type: dict
  sample: {"/run/haproxy/admin.sock": {"web1": {"state": "drain", "weight": 10}}}
drain_seconds:
  description: Seconds from the start of the drain until the last session of the named servers had ended (or was
    shut down). 0 when nothing had to drain.
  returned: always
  type: float
  sample: 1.84
drained_at:
  description: Wall-clock time (seconds since the epoch) when the servers were seen drained; null when not waited.
  returned: always
  type: float
  sample: 1764349212.31
sessions_at_start:
  description: Active sessions plus queued requests on the named servers, summed over every load balancer, when the
    drain began. For nginx, the client connections held by the worker processes replaced by the reload.
  returned: always
  type: int
  sample: 3
sessions_by_server:
  description: RV(sessions_at_start) per load balancer and server.
  returned: always
  type: dict
  sample: {"/run/haproxy/admin.sock": {"web1": 3}}
killed_sessions:
  description: Sessions killed because O(timeout) passed with O(on_timeout=shutdown). 0 otherwise.
  returned: always
  type: int
  sample: 0
timed_out:
  description: Whether O(timeout) passed before the servers were drained.
  returned: always
  type: bool
  sample: false
remaining:
  description: Sessions still running per load balancer and server when the module failed on a timeout.
  returned: failure
  type: dict
  sample: {"/run/haproxy/admin.sock": {"web1": 2}}
"""

from ansible_collections.zerodown.deploy.plugins.module_utils import _ledger as ledger  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils._module import run_module  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.drain import WAIT_SPEC, run  # noqa: E402


def main():
    argument_spec = dict(lb.ARGUMENT_SPEC)
    argument_spec.update(
        ledger=dict(type="dict", options=ledger.RECORD_SPEC),
        server=dict(type="str"),
        servers=dict(type="list", elements="str"),
        state=dict(type="str", default="drained", choices=["drained", "maint", "ready"]),
        enable=dict(
            type="dict",
            options=dict(servers=dict(type="list", elements="str", required=True), hosts=dict(type="raw")),
        ),
        **WAIT_SPEC,
    )
    run_module(
        argument_spec,
        run,
        diff=True,
        required_one_of=[["server", "servers"]],
        mutually_exclusive=[["server", "servers"]],
    )


if __name__ == "__main__":
    main()
