# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Options shared by drain_backend and switch_traffic (plugins/module_utils/lb/core.py ARGUMENT_SPEC).
    DOCUMENTATION = r"""
options:
  provider:
    description:
      - Which kind of load balancer to control.
      - V(haproxy) talks to HAProxy's runtime API (C(stats socket ... level admin)) on O(socket); changes
        take effect at once, without a reload.
      - V(nginx) edits the upstream's servers include file O(nginx.servers_file), checks the result with
        C(nginx -t), puts the old file back if the check fails, and reloads nginx gracefully.
      - V(haproxy) when neither this nor O(load_balancer) is given.
    type: str
    choices: [haproxy, nginx]
  socket:
    description:
      - HAProxy runtime API address, a unix socket path (C(/run/haproxy/admin.sock)) or C(host:port).
      - Run the task on the load-balancer host (Ansible reaches it over SSH) and give its unix socket. The runtime API
        has no authentication - anyone who can connect to an admin-level TCP socket can take every server out - so a
        C(host:port) is for localhost or a firewalled management network only (see docs/modules/load_balancers.md).
      - A list for several HAProxy processes reachable from that host; every one is checked before any is changed,
        and all are changed in the same call. Peers on other hosts are one call on each host.
      - The socket needs C(level admin) for changes.
      - Required when O(provider=haproxy).
    type: list
    elements: str
  api_timeout:
    description:
      - Seconds to wait for the HAProxy runtime API to connect and answer one command (5 when not given).
    type: float
  nginx:
    description:
      - The nginx instance to control. Required when O(provider=nginx).
      - The module owns O(nginx.servers_file) and rewrites it; include it inside the upstream block,
        C(upstream app { include /etc/nginx/zerodown/app.servers; }).
    type: dict
    suboptions:
      conf:
        description:
          - Main configuration file of the running nginx, passed as C(-c) to C(nginx -t).
        type: path
        required: true
      servers_file:
        description:
          - The include file holding only the upstream's C(server host:port [weight=N] [params] [down];) lines.
          - Server names given to the module are the C(host:port) addresses as written in this file.
          - "A server taken out is written with C(down) and a C(# zerodown: drain) or C(# zerodown: maint)
            comment, so the state reads back as it was set."
        type: path
        required: true
      pid_file:
        description:
          - The running nginx master's pid file (its C(pid) directive); the reload is a SIGHUP to that PID.
          - "The PID is verified first and nothing is signalled otherwise: not 1 or below, C(/proc/<pid>/exe) is
            O(nginx.binary), the process title is C(nginx: master process) and the master reads O(nginx.conf): its
            C(-c) (or, without one, the path compiled in, from C(nginx -V)) resolved against its C(-p) (or the
            prefix compiled in) and a relative prefix against the master's working directory, as nginx resolved
            it. A master whose configuration file cannot be told is refused too. The reload counts once that same
            master has new worker processes."
        type: path
        default: /run/nginx.pid
      binary:
        description:
          - The nginx executable used for C(nginx -t), and the one the running master must be running.
        type: path
        default: nginx
      prefix:
        description:
          - Prefix path passed as C(-p) to C(nginx -t), when nginx runs with one.
        type: path
      access_log:
        description:
          - An access log this nginx writes for the requests it proxies to the upstream, in the C(zerodown) log
            format, from which M(zerodown.deploy.canary_analysis) counts each server's requests, errors and
            response times (nginx open source keeps no per-server counters). Only M(zerodown.deploy.canary_analysis)
            reads it, and it is required there.
          - "In the C(http) block: C(log_format zerodown '\"$upstream_addr\" \"$upstream_status\"
            \"$upstream_connect_time\" \"$upstream_header_time\" \"$upstream_response_time\"';) and, where the
            upstream is proxied (beside any other access log), C(access_log /var/log/nginx/zerodown-access.log
            zerodown;) without C(buffer=) (a buffered line only counts once nginx has written it)."
        type: path
  haproxy:
    description:
      - What HAProxy writes beside its runtime API. Only M(zerodown.deploy.canary_analysis) reads it; nothing
        changes without it.
    type: dict
    suboptions:
      log:
        description:
          - "HAProxy's log as syslog writes it to a file (HAProxy cannot write a file itself), such as
            C(/var/log/haproxy.log): M(zerodown.deploy.canary_analysis) then adds each request's server response
            time (C(Tr), from HAProxy's default C(option httplog) lines of the backend's servers, after the syslog
            prefix C(haproxy[pid]: )) to the requests and errors it still takes from C(show stat), for tests on the
            distribution of response times rather than their means only."
          - "HAProxy needs C(option httplog) (its default format: no C(log-format)) where the traffic passes, C(log
            global) there and C(log 127.0.0.1:514 local0) (or C(log /dev/log local0)) in C(global); rsyslog writes
            the facility to the file (C(local0.* /var/log/haproxy.log)). Lines of other backends and HAProxy's own
            messages are skipped; a request of the backend in another format (C(option tcplog), a custom
            C(log-format)) fails the task naming the line and the format needed."
          - As for the nginx access log, a snapshot records the file's device, inode and byte offset; a log rotated
            between two snapshots makes the step unmeasurable. The module reads the file locally, so run it where the
            file is (C(delegate_to) the load-balancer host).
        type: path
  backend:
    description:
      - HAProxy backend name, or the nginx upstream name.
      - "Names may only hold C(A-Z a-z 0-9 _ . : -); anything else (C(;), spaces, newlines) is refused before
        anything is sent, so no runtime API command can be injected through a name."
      - Required unless O(load_balancer) is given.
    type: str
notes:
  - "nginx open source cannot report sessions per upstream server: a drained nginx server counts as busy until
    every worker process that ran before the reload has exited, which is when their in-flight requests are done."
  - HAProxy weights are 0-256, or a percentage V(N%) of the server's configured (initial) weight, computed as
    HAProxy does (rounded down). nginx weights are integers of 1 or more; take a server out with a state, not weight 0.
seealso:
  - name: HAProxy management guide (runtime API)
    description: C(show stat), C(show servers state), C(set server), C(shutdown sessions).
    link: https://docs.haproxy.org/2.6/management.html
  - name: nginx upstream module
    description: The C(server) directive and its C(weight) and C(down) parameters.
    link: https://nginx.org/en/docs/http/ngx_http_upstream_module.html#server
"""
