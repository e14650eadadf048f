# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The load_balancer option (plugins/module_utils/lb/core.py ARGUMENT_SPEC["load_balancer"]).
    DOCUMENTATION = r"""
options:
  load_balancer:
    description:
      - The whole load-balancer description as one value, as M(zerodown.deploy.deploy_plan) computes it from
        C(zerodown_lb) (C(zerodown_plan.lb)), so that a playbook passes one value and the provider is never a branch.
      - Its keys mean what the options of the same names of M(zerodown.deploy.switch_traffic) mean.
      - In M(zerodown.deploy.drain_backend) and M(zerodown.deploy.switch_traffic) it cannot be combined with
        their separate C(provider), C(socket), C(api_timeout), C(nginx), C(haproxy) or C(backend) options.
    type: dict
    suboptions:
      provider:
        description: As the option C(provider) of M(zerodown.deploy.switch_traffic).
        type: str
        choices: [haproxy, nginx]
        default: haproxy
      socket:
        description: As the option C(socket) of M(zerodown.deploy.switch_traffic).
        type: list
        elements: str
      api_timeout:
        description: As the option C(api_timeout) of M(zerodown.deploy.switch_traffic).
        type: float
        default: 5.0
      nginx:
        description: As the option C(nginx) of M(zerodown.deploy.switch_traffic).
        type: dict
        suboptions:
          conf:
            description: As C(nginx.conf) of M(zerodown.deploy.switch_traffic).
            type: path
            required: true
          servers_file:
            description: As C(nginx.servers_file) of M(zerodown.deploy.switch_traffic).
            type: path
            required: true
          pid_file:
            description: As C(nginx.pid_file) of M(zerodown.deploy.switch_traffic).
            type: path
            default: /run/nginx.pid
          binary:
            description: As C(nginx.binary) of M(zerodown.deploy.switch_traffic).
            type: path
            default: nginx
          prefix:
            description: As C(nginx.prefix) of M(zerodown.deploy.switch_traffic).
            type: path
          access_log:
            description: As C(nginx.access_log) of M(zerodown.deploy.canary_analysis).
            type: path
      haproxy:
        description: As the option C(haproxy) of M(zerodown.deploy.canary_analysis).
        type: dict
        suboptions:
          log:
            description: As C(haproxy.log) of M(zerodown.deploy.canary_analysis).
            type: path
      backend:
        description: As the option C(backend) of M(zerodown.deploy.switch_traffic).
        type: str
        required: true
      servers:
        description: Inventory host to backend server name (the plan's map); M(zerodown.deploy.deploy_ledger) checks that each exists.
        type: dict
      surge:
        description:
          - "The two instance slots of each app host when C(zerodown_surge) is on (docs/surge.md), as the plan computes
            them - C(slots), the two C({name, port}), and C(servers), each inventory host's server per slot
            (C({app1: {a: app1, b: app1_b}}))."
          - M(zerodown.deploy.deploy_ledger) checks, before any change, that every one of these servers exists on every
            load balancer and points at its slot's port; M(zerodown.deploy.surge_handover) reads which server is
            which slot's from it.
        type: dict
"""
