# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # How drain_backend and surge_handover wait (plugins/module_utils/lb/drain.py WAIT_SPEC).
    DOCUMENTATION = r"""
options:
  timeout:
    description:
      - Seconds to wait for the last session of the drained servers to end before O(on_timeout) applies.
    type: float
    default: 60
  on_timeout:
    description:
      - V(fail) fails the task when sessions remain after O(timeout) (servers stay drained).
      - V(shutdown) kills the remaining sessions, reports how many (C(killed_sessions)), and succeeds; with
        O(ledger) the cut sessions are also recorded as a step named C(drain) (servers, C(killed_sessions),
        C(drain_seconds)), which the deploy's summary reports.
    type: str
    choices: [fail, shutdown]
    default: fail
  healthy_timeout:
    description:
      - Seconds to wait for the health checks of the servers put into rotation in the same call to pass before the
        drained servers stop taking traffic; then the task fails with nothing moved.
    type: float
    default: 30
  poll_interval:
    description:
      - Seconds between two looks at the session counts. Small values make the module return sooner after the
        last request ends; each look is one cheap runtime API command per load balancer.
    type: float
    default: 0.1
"""
