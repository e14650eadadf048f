# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the drain_backend module's engine.

``run(params, check_mode, diff=False)``: every name is checked on every load balancer before the first change;
the servers of ``enable`` come back (after their health checks pass) in the same change that drains ``servers``,
through lb/core.py's one apply path (a failure puts every load balancer back); then one wait over every load
balancer until the drained servers have no session left (``wait_drained``), and for ``state=maint`` a second change.
Each step is recorded in the ledger when ``ledger`` is given.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from ansible_collections.zerodown.deploy.plugins.module_utils import _ledger as ledger
from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb

#: Each look is one runtime API command per load balancer; more than 10 s between looks only delays the return.
POLL_INTERVAL = validate.Limit(0, 10, low_open=True)
TARGETS = {"drained": "drain", "maint": "maint", "ready": "ready"}
#: How a drain waits: the options drain_backend and surge_handover share (doc fragment zerodown.deploy.drain_wait).
WAIT_SPEC: Dict[str, Any] = dict(
    timeout=dict(type="float", default=60.0),
    on_timeout=dict(type="str", default="fail", choices=["fail", "shutdown"]),
    poll_interval=dict(type="float", default=0.1),
    healthy_timeout=dict(type="float", default=lb.HEALTHY_TIMEOUT),
)


def new_result() -> Dict[str, Any]:
    return dict(
        changed=False,
        previous={},
        current={},
        drain_seconds=0.0,
        drained_at=None,
        sessions_at_start=0,
        sessions_by_server={},
        killed_sessions=0,
        timed_out=False,
    )


def with_problem(msg: str, problem: Any) -> str:
    return msg + ("; %s" % problem if problem else "")


class Drain:
    """One drain_backend call: the servers to drain (``names``), to put back first (``enable``), and the records."""

    def __init__(self, params: Mapping[str, Any], result: Dict[str, Any]) -> None:
        self.params = params
        self.result = result
        self.names: List[str] = [params["server"]] if params["server"] is not None else list(params["servers"])
        self.enable: List[str] = list(params["enable"]["servers"]) if params["enable"] else []
        self.named = self.names + self.enable  # every server this call reads back
        # the drain's record, and the record of the servers put back into rotation first (enable)
        self.drain_record = params["ledger"] if self.names else None
        self.enable_record = ledger.enabled_record(params["ledger"], params["enable"] and params["enable"]["hosts"])
        self.target = TARGETS[params["state"]]

    def fail(self, msg: str, exc: Any = None) -> None:
        raise ModuleFailure(msg, self.result) from exc

    # -- checks before anything is read --

    def check_params(self) -> None:
        params = self.params
        try:
            lb_params = lb.resolve_params(params)
        except lb.LBError as exc:
            self.fail(str(exc), exc)
        self.lb_params = lb_params
        self.backend = lb_params["backend"]
        self.check_lists()
        try:
            validate.numbers(
                params, {"timeout": validate.WAIT, "poll_interval": POLL_INTERVAL, "healthy_timeout": validate.WAIT}
            )
            ledger.check_record(params["ledger"])
            ledger.check_record(self.enable_record)
        except (validate.ValidationError, ledger.LedgerError) as exc:
            self.fail(str(exc), exc)

    def check_lists(self) -> None:
        names, enable = self.names, self.enable
        if not names and not enable:
            self.fail("servers is empty: name at least one server of backend %r to drain" % self.backend)
        for what, listed in (("servers", names), ("enable.servers", enable)):
            if len(set(listed)) != len(listed):
                self.fail("%s lists a server twice: %s" % (what, ", ".join(listed)))
        both = sorted(set(names) & set(enable))
        if both:
            self.fail(
                "%s in both servers and enable.servers: a server is either drained or put back, not both"
                % ", ".join(both)
            )
        if enable and self.params["state"] == "ready":
            self.fail("enable is for state=drained or state=maint: with state=ready list every server")

    def check_load_balancers(self) -> None:
        """Validate everything on every load balancer before the first change."""
        try:
            self.providers = lb.providers_from_params(self.lb_params)
            for provider in self.providers:
                provider.check_name(self.backend, "backend")
                for name in self.named:
                    provider.check_name(name)
            before = lb.read_all(self.providers, self.backend)
            for provider in self.providers:
                lb.check_servers(provider, self.backend, before[provider.id], self.named)
            recorded = ledger.recorded_processes(self.drain_record or self.enable_record)
            lb.check_same_process(self.providers, recorded, before, self.backend)
        except lb.LBError as exc:
            self.fail(str(exc), exc)
        self.plan_all(before)

    # -- plans --

    def plan_all(self, before: Dict[str, lb.ServerMap]) -> None:
        """Per load balancer: the changes now - enable and drain in one batch -, and the changes once drained."""
        self.before = before
        self.plans: Dict[str, lb.ServerMap] = {}
        self.final_plans: Dict[str, lb.ServerMap] = {}
        for provider in self.providers:
            now, final = lb.plan_drain(provider, before[provider.id], self.names, self.params["state"])
            now.update(lb.plan_drain(provider, before[provider.id], self.enable, "ready")[0])
            self.plans[provider.id], self.final_plans[provider.id] = now, final

    def expected_after(self) -> Dict[str, Any]:
        out = {}
        for provider in self.providers:
            merged = lb.expected(self.before[provider.id], self.plans[provider.id])
            for name, change in self.final_plans[provider.id].items():
                merged[name].update(change)
            out[provider.id] = {n: merged[n] for n in self.named}
        return out

    def report_plan(self, diff: bool) -> Dict[str, Any]:
        """The result before any change: previous, changed, the diff, the sessions to finish; returns what is
        expected after."""
        result, before = self.result, self.before
        result["previous"] = {p.id: lb.snapshot(before[p.id], self.named) for p in self.providers}
        expected_after = self.expected_after()
        result["changed"] = any(self.plans.values()) or any(self.final_plans.values())
        if diff:
            result["diff"] = dict(
                before=lb.render_state_lines(result["previous"], self.backend),
                after=lb.render_state_lines(expected_after, self.backend),
            )
        if self.target != "ready":
            by_server = {p.id: {n: before[p.id][n]["sessions"] for n in self.names} for p in self.providers}
            result["sessions_by_server"] = by_server
            result["sessions_at_start"] = sum(sum(v.values()) for v in by_server.values())
        return expected_after

    # -- changes --

    def read_back(self) -> Dict[str, Any]:
        return lb.read_back(self.providers, self.backend, self.named)

    def wait_enabled_healthy(self) -> None:
        """The servers coming back must pass their health checks before the others stop taking traffic."""
        try:
            fresh = lb.wait_healthy(
                self.providers, self.backend, self.plans, self.before, self.params["healthy_timeout"]
            )
        except lb.LBError as exc:
            self.fail(str(exc), exc)
        if fresh is not self.before:
            self.plan_all(fresh)

    def apply(self) -> None:
        problem = ledger.record_step(self.drain_record)
        if problem:
            self.result["changed"] = False
            self.fail(problem + "; nothing was changed")
        try:
            lb.apply_all(self.providers, self.backend, self.plans, self.before)
        except lb.LBError as exc:
            self.result["changed"] = not getattr(exc, "rolled_back", False)
            self.result["current"] = self.read_back()
            problem = ledger.record_step(ledger.not_moved_record(self.drain_record))
            self.fail(with_problem(str(exc), problem), exc)
        problem = ledger.record_step(self.enable_record)
        if problem:
            self.result["current"] = self.read_back()
            self.fail("the load balancer changed, but %s" % problem)

    def count_sessions_after_change(self) -> None:
        """Where sessions can only be counted after the change (nginx's old workers), count them now."""
        for provider in self.providers:
            if not self.plans[provider.id]:
                continue
            count = provider.sessions_after_change()
            if count is not None:
                self.result["sessions_by_server"][provider.id] = {n: count for n in self.names}
                self.result["sessions_at_start"] = count

    def wait_drained(self) -> None:
        params, result = self.params, self.result
        try:
            outcome = lb.wait_drained(
                self.providers,
                self.backend,
                self.names,
                timeout=params["timeout"],
                interval=params["poll_interval"],
                on_timeout=params["on_timeout"],
            )
        except lb.DrainTimeout as exc:
            result.update(timed_out=True, remaining=exc.remaining, drain_seconds=round(exc.elapsed, 3))
            result["current"] = self.read_back()
            # the hosts were only drained, never moved: a rollback has nothing to undo on them but their servers
            problem = ledger.record_step(ledger.not_moved_record(self.drain_record))
            self.fail(with_problem(str(exc), problem), exc)
        except lb.LBError as exc:
            result["current"] = self.read_back()
            self.fail("while waiting for the drain: %s" % exc, exc)
        result.update(
            drain_seconds=outcome.drain_seconds,
            drained_at=outcome.drained_at,
            killed_sessions=outcome.killed_sessions,
            timed_out=outcome.timed_out,
        )

    def apply_final(self) -> None:
        """state=maint: once drained, the servers go to maintenance."""
        if not any(self.final_plans.values()):
            return
        drained = {p.id: lb.expected(self.before[p.id], self.plans[p.id]) for p in self.providers}
        try:
            lb.apply_all(self.providers, self.backend, self.final_plans, drained)
        except lb.LBError as exc:
            self.result["current"] = self.read_back()
            self.fail("servers were drained, but maintenance failed: %s" % exc, exc)

    def record_cut_sessions(self) -> None:
        """The sessions the on_timeout=shutdown policy cut go into the ledger and the deploy's summary."""
        if not self.result["killed_sessions"]:
            return
        problem = ledger.record_step(ledger.cut_sessions_record(self.drain_record, self.names, self.result))
        if problem:
            self.fail("the servers were drained, but %s" % problem)


def run(params: Mapping[str, Any], check_mode: bool, diff: bool = False) -> Dict[str, Any]:
    """The drain_backend module."""
    result = new_result()
    drain = Drain(params, result)
    drain.check_params()
    drain.check_load_balancers()
    expected_after = drain.report_plan(diff)
    if check_mode:
        result["current"] = expected_after
        return result
    if drain.enable:
        drain.wait_enabled_healthy()
    drain.apply()
    if drain.target != "ready" and drain.names:
        drain.count_sessions_after_change()
        drain.wait_drained()
        drain.apply_final()
    result["current"] = drain.read_back()
    drain.record_cut_sessions()
    return result
