# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The ledger option of the modules that record while they work (plugins/module_utils/_ledger.py RECORD_SPEC).
    DOCUMENTATION = r"""
options:
  ledger:
    description:
      - Also record this step in the deploy ledger kept on this host (see M(zerodown.deploy.deploy_ledger)), in the
        same call, so that a deploy's batch costs no extra round trip.
      - M(zerodown.deploy.drain_backend) records before it changes anything, so a crash cannot hide a host it was
        about to move; M(zerodown.deploy.switch_traffic) records after the change took effect.
      - Not recorded in check mode.
      - A forward step (O(ledger.status) C(switching) or C(moved)) first checks that every HAProxy is still the process
        whose states the ledger captured at preflight (its C(Pid) and C(Start_time_sec)); one reloaded or restarted
        since serves with its configuration's server states again, so the module fails naming both processes and
        what the backend shows now, and changes nothing (the deploy's rollback puts back the captured states).
    type: dict
    suboptions:
      app:
        description: Application name (the ledger is C(<path>/<app>/ledger.json)).
        type: str
        required: true
      path:
        description: Directory holding one sub-directory per application.
        type: path
        default: /var/lib/zerodown
      run_id:
        description: The deploy run; the ledger must have been started by that run.
        type: str
        required: true
      hosts:
        description:
          - The inventory hosts this step concerns, as a list of host names, a list of C(zerodown_release_state)
            facts (their C(host) and C(previous) are recorded), or a dict of host to fields as for
            M(zerodown.deploy.deploy_ledger).
        type: raw
      status:
        description: Status recorded for every host in O(ledger.hosts).
        type: str
        choices: [staged, switching, moved, rolled_back, removed, unchanged, failed, unreachable]
      current:
        description: Release recorded as each host's current one.
        type: str
      servers:
        description: Inventory host to backend server name (the plan's C(servers) map); each host's server is recorded.
        type: dict
      batch:
        description: Batch number the hosts belong to.
        type: int
      phase:
        description: Name of the phase starting now.
        type: str
      step:
        description: A measured step to append to the ledger's C(steps) (a canary step's analysis, say).
        type: dict
      unreachable:
        description:
          - Hosts that could not be reached (a rollback's host whose machine died or whose network is cut). They are
            recorded with status C(unreachable) and nothing else, as what they run is unknown. A later rollback retries
            them; until then the restore leaves their servers out of the pool.
        type: list
        elements: str
"""
