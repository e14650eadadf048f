# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the canary_analysis module's engine.

``run(params, check_mode, clock=None)`` checks the parameters, then takes a snapshot of the counters
(``state=snapshot``), judges one canary step (``state=analyze``, lb/canary.py) or watches a bake window
(``state=bake``, lb/bake.py), or counts what the servers did since the snapshot before the deploy
(``state=tally``, lb/tally.py: never a failure, a reason when it cannot count). Where the counters come from is the provider's business (``Provider.counters``,
lb/core.py); a canary that did not pass is taken out through lb/core.py's one apply path. ``clock`` is the seam
the unit tests use to run a step on a fake clock. A step is judged at every look (``canary.sequential_looks``), so a
failing canary is taken out (``take_out_on_fail``) at the first look that fails, in this same call.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

from ansible_collections.zerodown.deploy.plugins.module_utils import _ledger as ledger
from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import bake, canary, counters, rollout, tally
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.errors import CanaryError, CanaryInputError
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import HAProxyError

#: What each judging state's result is, for the deploy report (RV analysis).
ANALYSIS_KIND = {"analyze": "canary", "bake": "bake", "rollout": "rollout"}
#: The options of each state that the other states refuse (checked in this order).
ANALYZE_ONLY = ("canary_servers", "baseline_servers", "since", "before")
NOT_FOR_BAKE = ("servers", "baseline_servers", "since")
#: The options only state=rollout takes, and the ones it refuses.
ROLLOUT_ONLY = ("entered", "entering")
NOT_FOR_ROLLOUT = ("servers", "canary_servers", "baseline_servers", "since")
NOT_FOR_TALLY = ("servers", "canary_servers", "baseline_servers", "since") + ROLLOUT_ONLY


def check_snapshot_params(params: Mapping[str, Any]) -> None:
    extra = [k for k in ANALYZE_ONLY if params[k] is not None]
    if extra:
        raise CanaryInputError(
            "%s only apply to state=analyze: leave them out of the snapshot call, or use state=analyze"
            % ", ".join(extra)
        )


def _refuse(params: Mapping[str, Any], not_for: Sequence[str], state_and_why: str) -> None:
    """The options a watching state (bake, rollout) does not take, named with what that state does instead."""
    extra = [k for k in not_for if params[k] is not None]
    extra += [k for k in ("max_wait", "take_out_on_fail") if params[k]]
    if extra:
        raise CanaryInputError("%s do not apply to %s" % (", ".join(extra), state_and_why))


def check_bake_params(params: Mapping[str, Any], validator: Any) -> canary.Thresholds:
    _refuse(
        params,
        NOT_FOR_BAKE,
        "state=bake: it watches canary_servers (default: the servers taking traffic) for pause seconds against before",
    )
    if params["before"] is None:
        raise CanaryInputError(
            "before is required with state=bake: the snapshot a state=snapshot call returned before the deploy"
        )
    if params["pause"] <= 0:
        raise CanaryInputError("pause=%r: give the bake window in seconds, above 0" % (params["pause"],))
    if params["canary_servers"] is not None:
        canary.check_names(params["canary_servers"], None, validator)
    return canary.Thresholds.from_params(params)


def check_analyze_params(params: Mapping[str, Any], validator: Any) -> canary.Thresholds:
    if params["before"] is not None:
        raise CanaryInputError("before only applies to state=bake: for state=analyze give since")
    if params["servers"] is not None:
        raise CanaryInputError(
            "servers only applies to state=snapshot: for state=analyze name canary_servers (and baseline_servers)"
        )
    if not params["canary_servers"]:
        raise CanaryInputError("canary_servers is required with state=analyze: name the servers of the new release")
    if params["since"] is None and params["pause"] <= 0:
        raise CanaryInputError(
            "no step to measure: give since (the snapshot returned by a state=snapshot call) or a pause above 0 "
            "(the module then takes the snapshot itself and waits)"
        )
    canary.check_names(params["canary_servers"], params["baseline_servers"], validator)
    return canary.Thresholds.from_params(params)


def check_rollout_params(params: Mapping[str, Any], validator: Any) -> canary.Thresholds:
    _refuse(
        params,
        NOT_FOR_ROLLOUT,
        "state=rollout: it judges the servers of entered (each from its snapshot) against the others, or against "
        "before",
    )
    if params["entered"] is None:
        raise CanaryInputError(
            "entered is required with state=rollout: [] at the first batch, then the entered list the previous "
            "state=rollout call returned"
        )
    rollout.check_entered(params["entered"], params["entering"] or [], validator)
    return canary.Thresholds.from_params(params)


def check_params(params: Mapping[str, Any], kind: Any) -> Optional[canary.Thresholds]:
    """Everything that can be checked before reaching a load balancer; returns the thresholds. ``kind`` is the
    Provider class of the load balancers."""
    problem = kind.counters_problem(params["_lb"])
    if problem:
        raise CanaryInputError(problem)
    limits = {"pause": validate.WAIT, "max_wait": validate.WAIT, "poll_interval": validate.INTERVAL}
    validate.numbers(params, limits, error=CanaryInputError)
    ledger.check_record(params["ledger"])
    if params["state"] == "rollout":
        return check_rollout_params(params, kind.server_validator())
    extra = [k for k in ROLLOUT_ONLY if params.get(k) is not None]
    if extra:
        raise CanaryInputError("%s only apply to state=rollout" % ", ".join(extra))
    if params["state"] == "snapshot":
        check_snapshot_params(params)
        return None
    if params["state"] == "bake":
        return check_bake_params(params, kind.server_validator())
    return check_analyze_params(params, kind.server_validator())


class Context:
    """What one run works on: the load balancers, where their counters come from, the backend and the clock."""

    def __init__(self, params: Mapping[str, Any], check_mode: bool, clock: Any) -> None:
        self.params = params
        self.check_mode = check_mode
        self.clock = clock
        self.lb_params = params["_lb"]
        self.backend = self.lb_params["backend"]
        self.kind = lb.provider_class(self.lb_params)
        self.validator = self.kind.server_validator()
        self.thresholds = check_params(params, self.kind)
        self.providers = lb.providers_from_params(self.lb_params)
        for provider in self.providers:
            provider.check_name(self.backend, "backend")
        self.source = self.kind.counters(self.lb_params, self.providers)


def analyze(ctx: Context):
    """One canary step: the canary against the baseline since ``since`` (or a snapshot taken now)."""
    params = ctx.params
    if params["since"] is not None:
        since = ctx.source.check(params["since"], ctx.backend)
    else:
        since = ctx.source.snapshot(ctx.backend)
    canary_servers, baseline_servers = canary.check_groups(
        params["canary_servers"], params["baseline_servers"], counters.snapshot_servers(since), ctx.validator
    )
    outcome = canary.analyze_step(
        ctx.source,
        since,
        canary_servers,
        baseline_servers,
        ctx.thresholds,
        pause=params["pause"],
        max_wait=params["max_wait"],
        poll_interval=params["poll_interval"],
        clock=ctx.clock,
    )
    fields = dict(
        canary_servers=canary_servers,
        baseline_servers=baseline_servers,
        looks=outcome.looks,
        looked=outcome.looked,
        stopped_early=outcome.stopped_early,
        enough_at=outcome.enough_at,
    )
    if params["take_out_on_fail"] and outcome.verdict.verdict != "pass" and not ctx.check_mode:
        fields.update(take_out(ctx, since, canary_servers, baseline_servers))
    return outcome, fields


def take_out_plan(servers: lb.ServerMap, canary_servers, baseline_servers) -> lb.ServerMap:
    """On one load balancer: drain the ready canary servers, when a baseline server serves there."""
    serving = [s for s in baseline_servers if s in servers and servers[s]["state"] == "ready" and servers[s]["weight"]]
    changes = {s: {"state": "drain"} for s in canary_servers if s in servers and servers[s]["state"] == "ready"}
    return changes if serving else {}


def take_out(ctx: Context, since, canary_servers, baseline_servers) -> Dict[str, Any]:
    """Drain a canary that did not pass where the baseline serves; then what it served until it was out. A load
    balancer that refuses the change does not stop the others (lb/core.py, ``TAKE_OUT``); it is reported."""
    before = lb.read_all(ctx.providers, ctx.backend)
    plans = {p.id: take_out_plan(before[p.id], canary_servers, baseline_servers) for p in ctx.providers}
    targets = [p for p in ctx.providers if plans[p.id]]
    if not targets:
        return {}
    report = lb.apply_all(targets, ctx.backend, plans, before, on_failure=lb.TAKE_OUT)
    out: Dict[str, Any] = {}
    if report.failed:
        out["not_taken_out"] = dict(report.failed)
        out["warnings"] = ["the canary was not taken out of %s: %s" % (pid, msg) for pid, msg in report.failed.items()]
    if not report.applied:
        return out
    # only where the canary was taken out: a load balancer that refused (perhaps gone) is not waited on, and does not
    # lose the report of the others
    drained = [p for p in ctx.providers if p.id in report.applied]
    try:  # what is still in flight after 10 s finishes on its own: counted as it is
        lb.wait_drained(drained, ctx.backend, canary_servers, timeout=10, interval=0.2, clock=ctx.clock)
    except lb.DrainTimeout:
        pass
    final = ctx.source.snapshot(ctx.backend, sorted(set(canary_servers) | set(baseline_servers)))
    until_out = counters.group(ctx.source.step(since, final), canary_servers)
    out.update(taken_out=list(report.applied), until_out=until_out.to_dict())
    return out


def bake_window(ctx: Context):
    """The bake window: the servers taking traffic against the snapshot taken before the deploy."""
    params = ctx.params
    before = ctx.source.check(params["before"], ctx.backend)
    known = counters.snapshot_servers(before)
    servers = params["canary_servers"]
    if servers is None:
        servers = bake.taking_traffic(lb.read_all(ctx.providers, ctx.backend))
        if not servers:
            raise CanaryInputError(
                "no server of backend %r is ready with a weight above 0: nothing takes traffic to watch" % ctx.backend
            )
    servers, _others = canary.check_groups(servers, [], known, ctx.validator)
    outcome = bake.watch(
        ctx.source,
        ctx.backend,
        before,
        servers,
        ctx.thresholds,
        params["pause"],
        params["poll_interval"],
        clock=ctx.clock,
    )
    return outcome, dict(
        canary_servers=servers,
        baseline_servers=known,
        looks=outcome.looks,
        looked=outcome.looked,
        stopped_early=outcome.stopped_early,
        enough_at=outcome.enough_at,
    )


def rollout_window(ctx: Context):
    """state=rollout: what moved so far against what did not (or before the deploy); lb/rollout.py."""
    params = ctx.params
    outcome = rollout.watch(
        ctx.source,
        ctx.backend,
        rollout.check_entered(params["entered"], params["entering"] or [], ctx.validator),
        params["entering"] or [],
        params["before"],
        ctx.thresholds,
        pause=params["pause"],
        poll_interval=params["poll_interval"],
        validator=ctx.validator,
        clock=ctx.clock,
    )
    fields = dict(canary_servers=outcome.moved, baseline_servers=outcome.unmoved, reference=outcome.reference)
    return outcome, dict(fields, entered=outcome.entered, looks=outcome.looks, looked=outcome.looked)


def measure(params: Dict[str, Any], check_mode: bool, clock: Any, result: Dict[str, Any]):
    """The snapshot (returned as None, None) or the step or bake window judged."""
    params["_lb"] = lb.resolve_params(params)
    ctx = Context(params, check_mode, clock)
    if params["state"] == "snapshot":
        result["snapshot"] = ctx.source.snapshot(ctx.backend, params["servers"])
        return None, None
    judged = {"bake": bake_window, "rollout": rollout_window}.get(params["state"], analyze)
    outcome, fields = judged(ctx)
    result["changed"] = bool(fields.get("taken_out"))
    return outcome, fields


def record(params: Mapping[str, Any], check_mode: bool, result: Dict[str, Any]) -> None:
    """The analysis in the ledger, as a step of the deploy's record."""
    if params["ledger"] is None:
        return
    analysis = {k: v for k, v in result.items() if k not in ("changed", "snapshot", "servers", "warnings", "entered")}
    step = dict(params["ledger"].get("step") or {}, **analysis)
    problem = ledger.record_step(dict(params["ledger"], step=step), check_mode)
    if problem:
        raise ModuleFailure(problem, result)


def check_tally_params(params: Mapping[str, Any]) -> None:
    extra = [k for k in NOT_FOR_TALLY if params[k] is not None]
    extra += [k for k in ("pause", "max_wait", "require_pass", "take_out_on_fail") if params[k]]
    if extra:
        raise CanaryInputError(
            "%s do not apply to state=tally: it counts what the servers of before did since before was taken"
            % ", ".join(extra)
        )
    ledger.check_record(params["ledger"])


def run_tally(params: Dict[str, Any], check_mode: bool) -> Dict[str, Any]:
    """The failed requests since ``before``, recorded in the ledger; what keeps it from counting is its reason,
    never a failure (only a misuse of the options fails)."""
    try:
        check_tally_params(params)
        lb_params = lb.resolve_params(params)
        kind = lb.provider_class(lb_params)
    except (CanaryError, lb.LBError, ledger.LedgerError) as exc:
        raise ModuleFailure(str(exc), dict(changed=False)) from exc
    result: Dict[str, Any] = dict(changed=False, warnings=[])
    result.update(
        tally.tally(
            lambda: kind.counters(lb_params, lb.providers_from_params(lb_params)),
            lb_params["backend"],
            params["before"],
            kind.counters_problem(lb_params),
        )
    )
    if params["ledger"] is not None:
        step = dict({"name": "tally"}, **(params["ledger"].get("step") or {}))
        step.update((k, result[k]) for k in ("measured", "reason", "total", "servers", "seconds"))
        problem = ledger.record_step(dict(params["ledger"], step=step), check_mode)
        if problem:  # the deploy goes on: the summary then says the run did not count
            result["warnings"].append("the failed requests were counted but not recorded: %s" % problem)
    return result


def run(params: Mapping[str, Any], check_mode: bool, clock: Any = None) -> Dict[str, Any]:
    """The canary_analysis module."""
    params = dict(params)
    if params["state"] == "tally":
        return run_tally(params, check_mode)
    result: Dict[str, Any] = dict(changed=False, snapshot={})
    try:
        outcome, fields = measure(params, check_mode, clock, result)
    except (CanaryError, lb.LBError, HAProxyError, ledger.LedgerError) as exc:
        raise ModuleFailure(str(exc), result) from exc
    if outcome is None:
        return result
    result.update(outcome.verdict.to_dict(), analysis=ANALYSIS_KIND[params["state"]])
    result.update(
        snapshot=outcome.snapshot,
        servers={name: counts.to_dict() for name, counts in sorted(outcome.per_server.items())},
        step_seconds=outcome.step_seconds,
        waited_seconds=outcome.waited_seconds,
        **fields,
    )
    record(params, check_mode, result)
    # state=rollout: inconclusive (too few requests so far) goes on, only a fail stops the rollout
    stops = ("fail",) if params["state"] == "rollout" else ("fail", "inconclusive")
    if params["require_pass"] and result["verdict"] in stops:
        what = {"bake": "bake window", "rollout": "rollout analysis"}.get(params["state"], "canary step")
        raise ModuleFailure("%s %s: %s" % (what, result["verdict"], result["reason"]), result)
    return result
