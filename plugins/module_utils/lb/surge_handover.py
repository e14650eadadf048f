# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the surge_handover module's engine (docs/surge.md).

``run(params, check_mode, diff=False)``: each host of ``live`` serves from the slot it names. The plan's surge map
(lb/surge.py) says which servers those are; the rest is drain_backend with ``enable`` (lb/drain.py): every load
balancer checked first (and here every host's two servers too), the servers of the ``live`` slots put in the pool
after their health checks pass, in the same change that drains the other slots' servers, one wait until their
in-flight requests are done, and maint after it for ``idle_state=maint``. One apply path, one wait, one ledger record.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import drain, surge

#: The keys the module returns as drain_backend does; the drain's own figures go under ``drain``.
SHARED_KEYS = ("changed", "previous", "current", "diff", "warnings")

#: idle_state -> drain_backend's state for the servers of the slots that stop serving
IDLE_STATES = {"drained": "drained", "maint": "maint"}


def drain_params(params: Mapping[str, Any], surge_map: surge.SurgeMap) -> Dict[str, Any]:
    """drain_backend's parameters for this handover: the live slots' servers in ``enable``, the others drained."""
    ready, drained = surge.handover(surge_map, params["live"])
    record = params["ledger"]
    moved = sorted(params["live"]) if params["moved"] else None
    if moved and not record:
        raise lb.LBValidationError("moved: true records the hosts in the ledger: give ledger too")
    out = {key: params[key] for key in ("timeout", "on_timeout", "poll_interval", "healthy_timeout")}
    out.update(
        load_balancer=params["load_balancer"],
        server=None,
        servers=drained,
        state=IDLE_STATES[params["idle_state"]],
        enable={"servers": ready, "hosts": moved},
        ledger=record,
    )
    out.update((key, None) for key in lb.LB_KEYS)  # the module takes the load balancer as load_balancer only
    return out


def check_surge_servers(params: Mapping[str, Any], surge_map: surge.SurgeMap) -> None:
    """Every host's two servers on every load balancer, before drain_backend reads or changes anything."""
    lb_params = lb.resolve_params({"load_balancer": params["load_balancer"]})
    providers = lb.providers_from_params(lb_params)
    for provider in providers:  # names first: nothing is sent that could carry a runtime API command
        provider.check_name(lb_params["backend"], "backend")
        for name in surge_map.names():
            provider.check_name(name)
    before = lb.read_all(providers, lb_params["backend"])
    surge.check(providers, lb_params["backend"], before, surge_map)


def shaped(drained: Dict[str, Any]) -> Dict[str, Any]:
    """drain_backend's result as this module returns it: its drain figures under ``drain``."""
    out = {key: drained[key] for key in SHARED_KEYS if key in drained}
    out["drain"] = {key: value for key, value in drained.items() if key not in SHARED_KEYS}
    return out


def run(params: Mapping[str, Any], check_mode: bool, diff: bool = False) -> Dict[str, Any]:
    """The surge_handover module."""
    try:
        surge_map = surge.SurgeMap.from_spec(params["load_balancer"])
        translated = drain_params(params, surge_map)
        check_surge_servers(params, surge_map)
    except lb.LBError as exc:
        raise ModuleFailure(str(exc), shaped(drain.new_result())) from exc
    live = params["live"]
    try:
        result = shaped(drain.run(translated, check_mode, diff))
    except ModuleFailure as exc:
        raise ModuleFailure(exc.msg, shaped(exc.result)) from exc
    result["slots"] = {
        host: {
            "live": live[host],
            "live_server": surge_map.servers[host][live[host]],
            "idle": surge_map.other(live[host]),
            "idle_server": surge_map.servers[host][surge_map.other(live[host])],
        }
        for host in sorted(live)
    }
    return result
