# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the switch_traffic module's engine.

``run(params, check_mode, diff=False)``: the wanted state of each server (``servers``/``active``/``standby``, or a
``restore`` of what drain_backend or the ledger captured) is checked on every load balancer before anything
changes, the servers taking the traffic over must pass their health checks (``wait_healthy``), then the change goes
through lb/core.py's one apply path (a failure puts every load balancer back) and is read back.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from ansible_collections.zerodown.deploy.plugins.module_utils import _ledger as ledger
from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb


def wanted_states(params: Dict[str, Any], providers) -> Dict[str, Dict[str, Any]]:
    """Per load balancer, server -> the wanted state and weight (a restore, from the ledger or given, or the
    servers/active/standby options)."""
    restore_ledger = params["restore_ledger"]
    if restore_ledger is not None:
        params["restore"] = ledger.captured_restore(
            restore_ledger["path"],
            restore_ledger["app"],
            hold=restore_ledger["hold"],
            drain_moved=restore_ledger["drain_moved"],
        )
    if params["restore"] is not None:
        return lb.restore_states(params["restore"], [p.id for p in providers])
    desired = lb.desired_states(params["servers"], params["active"], params["standby"], params["standby_state"])
    return {p.id: desired for p in providers}


class Switch:
    """One switch over every load balancer: what is there (``before``), the plans, what is expected after."""

    def __init__(self, params: Dict[str, Any]) -> None:
        validate.number(params["healthy_timeout"], "healthy_timeout", validate.WAIT, lb.LBValidationError)
        ledger.check_record(params["ledger"])
        lb_params = lb.resolve_params(params)
        self.params = params
        self.backend = lb_params["backend"]
        self.providers = lb.providers_from_params(lb_params)
        self.per_lb = wanted_states(params, self.providers)
        # Validate every name on every LB before reading or changing anything.
        for provider in self.providers:
            provider.check_name(self.backend, "backend")
            for name in self.per_lb.get(provider.id, {}):
                provider.check_name(name)
        self.before = lb.read_all(self.providers, self.backend)
        lb.check_same_process(self.providers, ledger.recorded_processes(params["ledger"]), self.before, self.backend)
        self.plans: Dict[str, lb.ServerMap] = {}
        for provider in self.providers:
            wanted = self.per_lb.get(provider.id, {})
            lb.check_servers(provider, self.backend, self.before[provider.id], list(wanted))
            self.plans[provider.id] = lb.plan(provider, self.before[provider.id], wanted)
        self.expected = {p.id: lb.expected(self.before[p.id], self.plans[p.id]) for p in self.providers}
        if params["restore"] is None:  # a restore puts back what was there, serving or not
            lb.check_still_serving({p.id: self.before[p.id] for p in self.providers}, self.expected, self.backend)

    def replan(self, before: Dict[str, lb.ServerMap]) -> None:
        self.before = before
        self.plans = {p.id: lb.plan(p, before[p.id], self.per_lb.get(p.id, {})) for p in self.providers}
        self.expected = {p.id: lb.expected(before[p.id], self.plans[p.id]) for p in self.providers}

    def report(self, result: Dict[str, Any]) -> None:
        result["changes"] = {lb_id: changes for lb_id, changes in self.plans.items() if changes}
        result["changed"] = bool(result["changes"])

    def wait_healthy(self, result: Dict[str, Any]) -> None:
        """The servers taking the traffic over pass their health checks first; plan again on what is there then."""
        try:
            fresh = lb.wait_healthy(
                self.providers, self.backend, self.plans, self.before, self.params["healthy_timeout"]
            )
            if fresh is not self.before:
                # states moved while waiting (the health checks): plan again on what is there now
                self.replan(fresh)
                self.report(result)
        except lb.LBError as exc:
            raise ModuleFailure(str(exc), result) from exc

    def apply(self, result: Dict[str, Any]) -> None:
        try:
            lb.apply_all(self.providers, self.backend, self.plans, self.before)
        except lb.LBApplyError as exc:
            result["changed"] = not exc.rolled_back
            result["current"] = lb.read_back(self.providers, self.backend)
            raise ModuleFailure(str(exc), result) from exc
        result["current"] = lb.read_back(self.providers, self.backend)
        result["serving"] = lb.serving(result["current"])

    def mismatch(self, current: Dict[str, Any]) -> list:
        return [
            "%s %s: wanted %s, found %s" % (lb_id, name, self.expected[lb_id][name], current[lb_id].get(name))
            for lb_id in self.expected
            for name in self.plans[lb_id]
            if current[lb_id].get(name) != self.expected[lb_id][name]
        ]


def start(params: Dict[str, Any], result: Dict[str, Any], diff: bool) -> Switch:
    """Everything checked on every load balancer, and the result's previous state, changes and diff."""
    try:
        switch = Switch(params)
    except (lb.LBError, ledger.LedgerError) as exc:
        raise ModuleFailure(str(exc), result) from exc
    result["previous"] = {p.id: lb.snapshot(switch.before[p.id]) for p in switch.providers}
    switch.report(result)
    if diff:
        result["diff"] = dict(
            before=lb.render_state_lines(result["previous"], switch.backend),
            after=lb.render_state_lines(switch.expected, switch.backend),
        )
    return switch


def record(params: Mapping[str, Any], result: Dict[str, Any], check_mode: bool = False, prefix: str = "") -> None:
    problem = ledger.record_step(params["ledger"], check_mode)
    if problem:
        raise ModuleFailure(prefix + problem, result)


def run(params: Mapping[str, Any], check_mode: bool, diff: bool = False) -> Dict[str, Any]:
    """The switch_traffic module."""
    params = dict(params)
    result: Dict[str, Any] = dict(changed=False, previous={}, current={}, changes={}, serving={})
    switch = start(params, result, diff)
    if result["changed"] and not check_mode:
        switch.wait_healthy(result)
    if check_mode or not result["changed"]:
        result["current"] = switch.expected
        result["serving"] = lb.serving(switch.expected)
        record(params, result, check_mode)
        return result
    switch.apply(result)
    mismatch = switch.mismatch(result["current"])
    if mismatch:
        raise ModuleFailure("the load balancer did not take the change: %s" % "; ".join(mismatch), result)
    record(params, result, prefix="the load balancer changed, but ")
    return result
