# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the deploy_lock module's engine, ``run(params, check_mode)``.

One call takes, refreshes, reports or gives back the lock (``_lock.DeployLock``) and, with the ``ledger`` option,
starts or finishes the ledger (``_ledger``) in the same round trip, in this order:

1. the options are checked (``check_params``), before anything is read;
2. the load balancer is captured (``capture``), read only, before the lock is taken, so that a load balancer that
   fails its preflight leaves nothing to give back;
3. the state's step runs: ``query``, ``refresh``, ``acquire`` then ``start_ledger`` (which gives back a lock this
   call took when the ledger cannot be written), or ``finish_ledger`` then ``release`` (the lock stays held when
   the ledger cannot be finished).

See docs/architecture.md, "Modules and engines" and "The ledger and the rollback contract".
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils import _ledger as ledgers
from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._lock import (
    DeployLock,
    LockHeld,
    NotOwner,
    StateDir,
    StateError,
    StateFileError,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb

DEFAULT_TTL = 3600

#: What a ledger that cannot be started or finished raises (refused, or not stored).
_LEDGER_ERRORS = (ledgers.LedgerError, ValueError, StateError, OSError)
#: The lock actions that took the lock: a failed ledger start gives it back.
_TAKEN = ("create", "takeover", "force_break")

Captured = Tuple[Optional[Dict[str, Any]], Optional[Dict[str, Any]]]


def run(params: Mapping[str, Any], check_mode: bool) -> Dict[str, Any]:
    """The deploy_lock module (see the module's documentation); raises ModuleFailure."""
    check_params(params)
    try:
        state_dir = StateDir(params["path"], params["app"])
        lock = DeployLock(state_dir)
    except ValueError as exc:
        raise ModuleFailure(str(exc)) from exc
    ledger = ledgers.Ledger(state_dir) if params["ledger"] else None
    captured = capture(params)
    try:
        if params["state"] == "query":
            return query(lock)
        if params["state"] == "refreshed":
            return refresh(lock, params, check_mode)
        if params["state"] == "acquired":
            return acquired(lock, ledger, captured, params, check_mode)
        return released(lock, ledger, params, check_mode)
    except (LockHeld, NotOwner) as exc:
        holder = dict(exc.holder)
        holder.update(_timing(lock, holder))
        raise ModuleFailure(str(exc), holder=holder, changed=False) from exc
    except StateFileError as exc:
        raise ModuleFailure("deploy lock: %s" % exc, changed=False) from exc
    except (StateError, OSError) as exc:
        raise ModuleFailure(
            "deploy lock in %s: %s; check that the directory is writable by the connecting user "
            "(become: true on the lock host)" % (params["path"], exc)
        ) from exc


# -- the options ------------------------------------------------------------------------------


def check_params(params: Mapping[str, Any]) -> None:
    """Refuse options that do not go together, before anything is read or written."""
    if params["ttl"] is not None:
        try:
            validate.number(params["ttl"], "ttl", validate.WHOLE_SECONDS)
        except validate.ValidationError as exc:
            raise ModuleFailure("%s (e.g. ttl: 3600)" % exc) from exc
    if params["state"] == "released" and not params["run_id"] and not params["force"]:
        raise ModuleFailure("state=released needs the run_id that acquired the lock, or force: true to break it")
    problem = ledger_problem(params)
    if problem:
        raise ModuleFailure(problem)


def ledger_problem(params: Mapping[str, Any]) -> Optional[str]:
    """What is wrong with the ledger and load_balancer options for this state, or None."""
    if params["ledger"] is None:
        if params["load_balancer"] is not None:
            return "load_balancer is read for the ledger: give ledger too (state=acquired)"
        return None
    if params["state"] == "acquired":
        return _ledger_start_problem(params["ledger"])
    if params["state"] == "released":
        return _ledger_finish_problem(params)
    return "ledger is for state=acquired (start it) or state=released (finish it), not state=%s" % params["state"]


def _ledger_start_problem(options: Mapping[str, Any]) -> Optional[str]:
    wrong = [k for k in ("outcome", "cause") if options[k] is not None]
    if wrong:
        return "ledger.%s is for state=released (finishing the ledger)" % wrong[0]
    return None


def _ledger_finish_problem(params: Mapping[str, Any]) -> Optional[str]:
    if params["load_balancer"] is not None:
        return "load_balancer is read when the ledger starts (state=acquired), not with state=released"
    wrong = [k for k in ("plan", "phase") if params["ledger"][k] is not None]
    if wrong:
        return "ledger.%s is for state=acquired (starting the ledger)" % wrong[0]
    if params["ledger"]["outcome"] is None:
        return "ledger.outcome is required with state=released: how the deploy ended (completed, rolled_back, ...)"
    if not params["run_id"]:
        return "ledger needs the run_id of the deploy whose ledger it finishes"
    return None


# -- the steps --------------------------------------------------------------------------------


def capture(params: Mapping[str, Any]) -> Captured:
    """The load balancer's state and processes before the first change ((None, None) without load_balancer).

    Read before the lock is taken: a load balancer that fails its preflight leaves nothing to give back."""
    if params["load_balancer"] is None:
        return None, None
    try:
        return ledgers.capture_lb(params["load_balancer"])
    except lb.LBError as exc:
        raise ModuleFailure("load balancer preflight failed, nothing was changed: %s" % exc, changed=False) from exc


def query(lock: DeployLock) -> Dict[str, Any]:
    """state=query: who holds the lock, read only."""
    holder = lock.read()
    result = dict(changed=False, action="query", lock=holder, previous_holder=None, held=holder is not None)
    result["expired"] = bool(holder) and lock.is_expired(holder)
    result.update(_timing(lock, holder))
    return result


def refresh(lock: DeployLock, params: Mapping[str, Any], check_mode: bool) -> Dict[str, Any]:
    """state=refreshed: the lock this run holds gets another TTL."""
    if check_mode:
        holder = lock.plan_refresh(params["run_id"])["holder"]
        result = dict(changed=True, action="refresh", lock=lock.refreshed(holder, params["ttl"]))
        before = holder
    else:
        out = lock.refresh(params["run_id"], params["ttl"])
        result = dict(changed=True, action="refresh", lock=out["lock"], audit=out["audit"])
        before = None
    result.update(previous_holder=None, held=True, expired=False)
    result["diff"] = dict(before=before or {}, after=result["lock"])
    result.update(_timing(lock, result["lock"]))
    return result


def acquired(
    lock: DeployLock,
    ledger: Optional[ledgers.Ledger],
    captured: Captured,
    params: Mapping[str, Any],
    check_mode: bool,
) -> Dict[str, Any]:
    """state=acquired: take the lock, then start the ledger (with the ledger option)."""
    result = acquire(lock, params, check_mode)
    if ledger is not None:
        result.update(start_ledger(lock, ledger, captured, params, check_mode, result["action"]))
    return result


def released(
    lock: DeployLock, ledger: Optional[ledgers.Ledger], params: Mapping[str, Any], check_mode: bool
) -> Dict[str, Any]:
    """state=released: finish the ledger first (with the ledger option), then give the lock back."""
    finished = finish_ledger(ledger, params, check_mode) if ledger is not None else None
    result = release(lock, params, check_mode)
    if finished is not None:
        result.update(_ledger_result(finished))
    return result


def acquire(lock: DeployLock, params: Mapping[str, Any], check_mode: bool) -> Dict[str, Any]:
    """state=acquired: take the lock (or take over a stale one, or break it with force)."""
    ttl = params["ttl"] or DEFAULT_TTL
    result = _plan_acquire(lock, params, ttl) if check_mode else _take(lock, params, ttl)
    before = result["previous_holder"] if result["changed"] else result["lock"]
    result["diff"] = dict(before=before or {}, after=result["lock"] or {})
    result["held"] = True
    result["expired"] = False
    result.update(_timing(lock, result["lock"]))
    return result


def _plan_acquire(lock: DeployLock, params: Mapping[str, Any], ttl: int) -> Dict[str, Any]:
    plan = lock.plan_acquire(params["run_id"], params["force"])
    changed = plan["action"] != "none"
    if not changed:
        after = plan["holder"]
    elif plan["action"] == "refresh":
        after = lock.refreshed(plan["holder"], ttl)
    else:
        after = lock.new_holder(
            params["owner"] or "",
            params["run_id"],
            params["release"],
            ttl,
            params["controller"],
            params["controller_process"],
        )
    return dict(
        changed=changed,
        action=plan["action"],
        lock=after,
        previous_holder=_previous(plan) if changed and plan["action"] != "refresh" else None,
    )


def _take(lock: DeployLock, params: Mapping[str, Any], ttl: int) -> Dict[str, Any]:
    out = lock.acquire(
        params["owner"] or "",
        params["run_id"],
        params["release"],
        ttl,
        params["controller"],
        params["force"],
        controller_process=params["controller_process"],
        reason=params["reason"],
    )
    result = dict(
        changed=out["changed"], action=out["action"], lock=out["lock"], previous_holder=out["previous_holder"]
    )
    if out["audit"]:
        result["audit"] = out["audit"]
    return result


def start_ledger(
    lock: DeployLock,
    ledger: ledgers.Ledger,
    captured: Captured,
    params: Mapping[str, Any],
    check_mode: bool,
    action: str,
) -> Dict[str, Any]:
    """With state=acquired: start the run's ledger once the lock is held; the ledger part of the result.

    A ledger that cannot be written gives back the lock this call took (``action``), so a failed start leaves the
    lock as it found it."""
    lb_state, lb_process = captured
    try:
        started = ledgers.start_run(
            ledger,
            params["run_id"],
            params["release"],
            lb_state,
            params["ledger"]["plan"],
            check_mode,
            lb_process,
            phase=params["ledger"]["phase"],
        )
    except _LEDGER_ERRORS as exc:
        gave_back = ""
        if action in _TAKEN and not check_mode:
            lock.release(params["run_id"], params["owner"], False)
            gave_back = "; the lock this call took was given back"
        raise ModuleFailure(ledgers.error_message(params["path"], exc) + gave_back, changed=False) from exc
    return _ledger_result(started)


def finish_ledger(ledger: ledgers.Ledger, params: Mapping[str, Any], check_mode: bool) -> Dict[str, Any]:
    """With state=released: finish the run's ledger before the lock is given back; the lock stays held by this run
    when the ledger cannot be finished, so that the next call of the same run can retry."""
    try:
        outcome = ledgers.final_outcome(ledger, params["ledger"]["outcome"])
        return ledger.update(params["run_id"], check=check_mode, outcome=outcome, cause=params["ledger"]["cause"])
    except _LEDGER_ERRORS as exc:
        raise ModuleFailure(
            ledgers.error_message(params["path"], exc) + "; the lock stays held by run %s" % params["run_id"],
            changed=False,
        ) from exc


def release(lock: DeployLock, params: Mapping[str, Any], check_mode: bool) -> Dict[str, Any]:
    """state=released: give the lock back (or break it with force)."""
    if check_mode:
        plan = lock.plan_release(params["run_id"], params["force"])
        result = dict(
            changed=plan["action"] != "none", action=plan["action"], lock=None, previous_holder=_previous(plan)
        )
    else:
        out = lock.release(params["run_id"], params["owner"], params["force"])
        result = dict(changed=out["changed"], action=out["action"], lock=None, previous_holder=out["previous_holder"])
        if out["audit"]:
            result["audit"] = out["audit"]
    result["diff"] = dict(before=result["previous_holder"] or {}, after={})
    result["held"] = False
    result["expired"] = False
    return result


# -- helpers ----------------------------------------------------------------------------------


def _previous(plan: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The holder a planned change replaces: an unreadable lock file's evidence, or the holder read."""
    return plan["corrupt"].evidence() if plan.get("corrupt") is not None else plan["holder"]


def _timing(lock: DeployLock, holder: Optional[Mapping[str, Any]]) -> Dict[str, int]:
    if not holder:
        return {}
    now = lock.clock()
    return {
        "age": int(now - float(holder.get("started_epoch", now))),
        "expires_in": int(float(holder.get("expires_epoch", now)) - now),
    }


def _ledger_result(out: Dict[str, Any]) -> Dict[str, Any]:
    """The ledger part of the result (the lock keeps its own changed and diff)."""
    return {k: v for k, v in ledgers.report(out).items() if k not in ("changed", "diff")}
