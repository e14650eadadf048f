# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: one interface over every load balancer.

A ``Provider`` is one load balancer (one HAProxy, one nginx). drain_backend
and switch_traffic only talk to providers, so a cloud load balancer later is
one more subclass:

* ``read(backend)`` -> ``{server: {"state": ready|drain|maint, "weight": int, ...}}``
* ``target_weight(info, weight)`` -> the absolute weight a requested weight means
* ``apply(backend, changes)`` -> apply ``{server: {"state"?, "weight"?}}`` together
* ``pending(backend, servers)`` -> ``{server: n}`` requests still to finish
  (0 everywhere = drained)
* ``shutdown(backend, servers)`` -> kill what is left, return how many
* ``sessions_after_change()`` -> the sessions a drain left to finish, where they
  can only be counted after the change (nginx), else None
* ``counters(lb_params, providers)`` (with ``counters_problem`` and
  ``server_validator``) -> where canary_analysis reads each server's counts

Above that, plain functions do what the modules share: validate every LB
before any change (``read_all`` + ``check_servers``), ``plan``,
``apply_all`` (the one apply path: with rollback of LBs already changed if a later one fails, or for a canary
taken out, going on with the others),
and ``drain`` (one wait over every LB and server, through ``wait_until``).
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import Clock, WaitTimeout, wait_until
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import counters as lb_counters
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import haproxy, haproxy_log, nginx, nginx_log

STATES = ("ready", "drain", "maint")

ServerMap = Dict[str, Dict[str, Any]]  # server -> {"state", "weight", ...}


class LBError(Exception):
    """Base class for load-balancer errors; the message is fit for a user."""


class LBValidationError(LBError):
    """Bad input (name, weight, state, unknown backend/server); nothing was changed."""


class LBUnreachableError(LBError):
    """A load balancer could not be reached; nothing was changed."""


class LBRestartedError(LBError):
    """A load balancer was reloaded or restarted since the deploy recorded it: its runtime states are lost."""


class LBApplyError(LBError):
    """A change failed part way; ``rolled_back`` tells whether the earlier ones were undone."""

    def __init__(self, message: str, rolled_back: bool = False) -> None:
        super().__init__(message)
        self.rolled_back = rolled_back


class DrainTimeout(LBError):
    def __init__(self, message: str, remaining: Dict[str, Dict[str, int]], elapsed: float) -> None:
        super().__init__(message)
        self.remaining = remaining
        self.elapsed = elapsed


class Provider:
    """One load balancer. Subclasses implement the five methods below."""

    kind = "abstract"

    def __init__(self, ident: str) -> None:
        self.id = ident

    def check_name(self, name: Any, what: str = "server") -> str:
        raise NotImplementedError

    def read(self, backend: str) -> ServerMap:
        raise NotImplementedError

    def target_weight(self, info: Dict[str, Any], weight: Any) -> int:
        raise NotImplementedError

    def apply(self, backend: str, changes: ServerMap) -> None:
        raise NotImplementedError

    def pending(self, backend: str, servers: Sequence[str]) -> Dict[str, int]:
        raise NotImplementedError

    def shutdown(self, backend: str, servers: Sequence[str]) -> int:
        raise NotImplementedError

    def sessions_after_change(self) -> Optional[int]:
        """The sessions a drain just made this load balancer finish, when they can only be counted after the change
        (nginx: the client connections of the worker processes the reload replaced); None where they were counted
        per server before it (HAProxy)."""
        return None

    # -- what canary_analysis counts on this kind of load balancer (lb/counters.py) --

    @classmethod
    def counters_problem(cls, lb_params: Dict[str, Any]) -> Optional[str]:
        """Why this kind of load balancer cannot give canary_analysis its counters with these parameters."""
        return None

    @classmethod
    def server_validator(cls) -> Optional[Any]:
        """How canary_analysis checks a server name (None: HAProxy's server names, the default)."""
        return None

    @classmethod
    def counters(cls, lb_params: Dict[str, Any], providers: Sequence[Provider]) -> Any:
        """Where canary_analysis reads each server's requests, errors and response times (a CounterSource)."""
        raise NotImplementedError

    def process(self) -> Optional[Dict[str, int]]:
        """What tells this load balancer's running process from the next one, or None where its server states
        survive a reload or restart (nginx: they live in the servers file it reads again)."""
        return None


def order_commands(changes: ServerMap, current: ServerMap) -> List[str]:
    """Server names in the order to change them: servers gaining traffic first, losing traffic last.

    Applied in this order, a switch never passes through a moment where
    fewer servers take traffic than before and after.
    """

    def rank(name: str) -> int:
        change = changes[name]
        state = change.get("state", current[name]["state"])
        if state != "ready":
            return 2
        if change.get("state") == "ready" or change.get("weight", 0) > current[name]["weight"]:
            return 0
        return 1

    return sorted(changes, key=lambda n: (rank(n), n))


class HAProxyProvider(Provider):
    kind = "haproxy"

    def __init__(self, address: str, timeout: float = 5.0, runtime: Optional[haproxy.HAProxyRuntime] = None) -> None:
        super().__init__(address)
        try:
            self.runtime = runtime or haproxy.HAProxyRuntime(address, timeout=timeout)
        except haproxy.HAProxyError as exc:
            raise LBValidationError(str(exc)) from exc

    def _call(self, func, *args):
        try:
            return func(*args)
        except haproxy.HAProxyConnectionError as exc:
            raise LBUnreachableError(str(exc)) from exc
        except (haproxy.HAProxyNameError, haproxy.HAProxyValueError, haproxy.HAProxyNotFoundError) as exc:
            raise LBValidationError(str(exc)) from exc
        except haproxy.HAProxyError as exc:
            raise LBApplyError(str(exc)) from exc

    def check_name(self, name: Any, what: str = "server") -> str:
        return self._call(haproxy.validate_name, name, what)

    def read(self, backend: str) -> ServerMap:
        self.check_name(backend, "backend")
        servers = self._call(self.runtime.servers, backend)
        out: ServerMap = {}
        for (_be, name), info in servers.items():
            entry = dict(info)
            entry["sessions"] = info["scur"] + info["qcur"]
            out[name] = entry
        return out

    def target_weight(self, info: Dict[str, Any], weight: Any) -> int:
        text = self._call(haproxy.normalize_weight, weight)
        if text.endswith("%"):
            # Same arithmetic as HAProxy's own 'set weight b/s N%', done here so
            # the result is known before it is applied (plans, idempotence).
            percent = int(text[:-1])
            result = info["initial_weight"] * percent // 100
            if percent and not result:
                # rounded down to 0: the server would silently stop taking traffic, the opposite of what was asked
                least = -(-100 // info["initial_weight"]) if info["initial_weight"] else None
                raise LBValidationError(
                    "weight %r of its initial weight %d is 0 (HAProxy rounds down), which takes it out of traffic: "
                    "give %s, or weight 0 / state drain to take it out on purpose"
                    % (weight, info["initial_weight"], "at least %d%%" % least if least else "a weight")
                )
            return result
        return int(text)

    def apply(self, backend: str, changes: ServerMap) -> None:
        if not changes:
            return
        current = self.read(backend)
        commands = []
        for name in order_commands(changes, current):
            change = changes[name]
            # Weight first: a server coming back is ready with its new weight at once.
            if "weight" in change:
                commands.append(self._call(self.runtime.weight_command, backend, name, change["weight"]))
            if "state" in change:
                commands.append(self._call(self.runtime.state_command, backend, name, change["state"]))
        self._call(self.runtime.apply, commands)

    def pending(self, backend: str, servers: Sequence[str]) -> Dict[str, int]:
        sessions = self._call(self.runtime.sessions, backend, servers)
        return {name: value["scur"] + value["qcur"] for name, value in sessions.items()}

    @classmethod
    def counters(cls, lb_params: Dict[str, Any], providers: Sequence[Provider]) -> Any:
        runtimes = {p.id: p.runtime for p in providers}
        log = (lb_params.get("haproxy") or {}).get("log")
        if log:  # each request's response time too, from HAProxy's log (lb/haproxy_log.py)
            return haproxy_log.HAProxyLogCounters(runtimes, log)
        return lb_counters.HAProxyCounters(runtimes)

    def process(self) -> Optional[Dict[str, int]]:
        # A reload or restart starts a new process whose runtime states are the configuration's again.
        return haproxy.process_of(self._call(self.runtime.show_info))

    def shutdown(self, backend: str, servers: Sequence[str]) -> int:
        killed = 0
        for name, count in self.pending(backend, servers).items():
            if count:
                killed += count
                self._call(self.runtime.shutdown_sessions, backend, name)
        return killed


class NginxProvider(Provider):
    """nginx: the servers include file is the state; a change is a tested, graceful reload."""

    kind = "nginx"

    def __init__(self, control: nginx.Nginx) -> None:
        super().__init__(control.servers_file)
        self.control = control
        self._draining: set = set()  # old workers of our last reload

    def _call(self, func, *args):
        try:
            return func(*args)
        except (nginx.NginxFileError, nginx.NginxConfigTestError) as exc:
            raise LBValidationError(str(exc)) from exc
        except nginx.NginxReloadError as exc:
            raise LBApplyError(str(exc), rolled_back=True) from exc
        except nginx.NginxError as exc:
            raise LBValidationError(str(exc)) from exc

    def check_name(self, name: Any, what: str = "server") -> str:
        if what == "backend":
            return self._upstream(name)
        return self._call(nginx.validate_address, name)

    def _upstream(self, name: Any) -> str:
        try:
            return haproxy.validate_name(name, "upstream")
        except haproxy.HAProxyError as exc:
            raise LBValidationError(str(exc)) from exc

    def read(self, backend: str) -> ServerMap:
        self._upstream(backend)
        self._call(self.control.master_pid)  # unreachable nginx fails here, before any change
        out: ServerMap = {}
        for server in self._call(self.control.read, backend):
            out[server.address] = {
                "state": server.state,
                "weight": server.effective_weight,
                "initial_weight": server.effective_weight,
                "address": server.address,
                "sessions": 0,
            }
        return out

    def target_weight(self, info: Dict[str, Any], weight: Any) -> int:
        return self._call(nginx.validate_weight, weight)

    def render(self, backend: str, changes: ServerMap) -> str:
        servers = self._call(self.control.read, backend)
        by_name = {s.address: s for s in servers}
        for name, change in changes.items():
            if name not in by_name:
                raise LBValidationError("nginx upstream %r has no server %r" % (backend, name))
            if "weight" in change:
                by_name[name].set_weight(change["weight"])
            if "state" in change:
                by_name[name].set_state(change["state"])
        return nginx.render_servers(backend, servers)

    def apply(self, backend: str, changes: ServerMap) -> None:
        if not changes:
            return
        text = self.render(backend, changes)
        if text == self._call(self.control.read_text):
            return
        self._draining = self._call(self.control.apply_text, text)

    def pending(self, backend: str, servers: Sequence[str]) -> Dict[str, int]:
        # nginx cannot tell which upstream an old worker's request goes to:
        # every drained server waits for the old workers as a whole.
        self._draining = self.control.alive(self._draining)
        left = len(self._draining)
        return {name: left for name in servers}

    def client_connections(self) -> int:
        return self.control.client_connections(self.control.alive(self._draining))

    def sessions_after_change(self) -> Optional[int]:
        return self.client_connections()

    @classmethod
    def counters_problem(cls, lb_params: Dict[str, Any]) -> Optional[str]:
        if (lb_params["nginx"] or {}).get("access_log"):
            return None
        return nginx_log.requirement_message()

    @classmethod
    def server_validator(cls) -> Optional[Any]:
        return nginx_log.validate_server

    @classmethod
    def counters(cls, lb_params: Dict[str, Any], providers: Sequence[Provider]) -> Any:
        return nginx_log.NginxLogCounters(providers[0], lb_params["nginx"]["access_log"])

    def shutdown(self, backend: str, servers: Sequence[str]) -> int:
        return self.control.terminate(self._draining)


# -- building providers from module parameters --------------------------------------------

_NGINX_SPEC: Dict[str, Any] = {
    "type": "dict",
    "options": {
        "conf": {"type": "path", "required": True},
        "servers_file": {"type": "path", "required": True},
        "pid_file": {"type": "path", "default": "/run/nginx.pid"},
        "binary": {"type": "path", "default": "nginx"},
        "prefix": {"type": "path"},
        # read by canary_analysis only: per-server counts from nginx's access log (lb/nginx_log.py)
        "access_log": {"type": "path"},
    },
}
_HAPROXY_SPEC: Dict[str, Any] = {
    "type": "dict",
    "options": {
        # read by canary_analysis only: each request's response time from HAProxy's log (lb/haproxy_log.py)
        "log": {"type": "path"},
    },
}
#: The keys of one load-balancer description, as options of their own or inside ``load_balancer``.
LB_KEYS = ("provider", "socket", "api_timeout", "nginx", "haproxy", "backend")

ARGUMENT_SPEC: Dict[str, Any] = {
    "provider": {"type": "str", "choices": ["haproxy", "nginx"]},
    "socket": {"type": "list", "elements": "str"},
    "api_timeout": {"type": "float"},
    "nginx": _NGINX_SPEC,
    "haproxy": _HAPROXY_SPEC,
    "backend": {"type": "str"},
    # The same description as one value: zerodown_plan.lb, built from zerodown_lb by the deploy plan.
    "load_balancer": {
        "type": "dict",
        "options": {
            "provider": {"type": "str", "default": "haproxy", "choices": ["haproxy", "nginx"]},
            "socket": {"type": "list", "elements": "str"},
            "api_timeout": {"type": "float", "default": 5.0},
            "nginx": _NGINX_SPEC,
            "haproxy": _HAPROXY_SPEC,
            "backend": {"type": "str", "required": True},
            "servers": {"type": "dict"},
            # the plan's surge slots and each host's server per slot (docs/surge.md; lb/surge.py reads it)
            "surge": {"type": "dict"},
        },
    },
}


def resolve_params(params: Dict[str, Any]) -> Dict[str, Any]:
    """One load-balancer description from a module's parameters: ``load_balancer`` or the separate options.

    Returns {provider, socket, api_timeout, nginx, haproxy, backend}; raises LBValidationError naming what is
    missing or given twice. Called before anything is read or changed.
    """
    given = params.get("load_balancer")
    separate = sorted(k for k in LB_KEYS if params.get(k) is not None)
    if given is not None:
        if separate:
            raise LBValidationError(
                "give the load balancer either as load_balancer or as %s, not both (%s given beside load_balancer)"
                % ("/".join(LB_KEYS), ", ".join(separate))
            )
        out = {k: given.get(k) for k in LB_KEYS}
    else:
        out = {k: params.get(k) for k in LB_KEYS}
    out["provider"] = out["provider"] or "haproxy"
    if out["api_timeout"] is None:
        out["api_timeout"] = 5.0
    out["api_timeout"] = validate.number(out["api_timeout"], "api_timeout", validate.TIMEOUT, LBValidationError)
    if not out["backend"]:
        raise LBValidationError("backend is missing: name the HAProxy backend (or nginx upstream) of the app servers")
    if out["provider"] == "haproxy" and not out["socket"]:
        raise LBValidationError(
            "provider haproxy needs socket: the HAProxy runtime API address (a unix socket path or host:port)"
        )
    if out["provider"] == "nginx" and not out["nginx"]:
        raise LBValidationError("provider nginx needs nginx: {conf, servers_file} of the nginx to control")
    if out["provider"] == "nginx" and (out["haproxy"] or {}).get("log"):
        raise LBValidationError(
            "haproxy.log=%s is HAProxy's log, but provider is nginx: for nginx give nginx.access_log instead"
            % out["haproxy"]["log"]
        )
    return out


def provider_class(params: Dict[str, Any]) -> type:
    """The Provider class of the load balancers a module's resolved parameters describe."""
    return NginxProvider if params["provider"] == "nginx" else HAProxyProvider


def providers_from_params(params: Dict[str, Any]) -> List[Provider]:
    """One Provider per load balancer named in the module parameters (see ARGUMENT_SPEC)."""
    if provider_class(params) is NginxProvider:
        opts = params["nginx"]
        control = nginx.Nginx(
            conf=opts["conf"],
            servers_file=opts["servers_file"],
            pid_file=opts["pid_file"],
            binary=opts["binary"],
            prefix=opts.get("prefix"),
        )
        return [NginxProvider(control)]
    sockets = [s for s in params.get("socket") or [] if s is not None]
    if not sockets:
        raise LBValidationError(
            "socket is empty: give the HAProxy runtime API address (a unix socket path or host:port)"
        )
    if len(set(sockets)) != len(sockets):
        raise LBValidationError("socket lists the same load balancer twice: %s" % ", ".join(sockets))
    return [HAProxyProvider(address, timeout=params.get("api_timeout") or 5.0) for address in sockets]


def render_state_lines(states: Dict[str, Dict[str, Dict[str, Any]]], backend: str) -> str:
    """Text for a module's diff: one line per LB and server."""
    lines = []
    for lb in sorted(states):
        for server in sorted(states[lb]):
            info = states[lb][server]
            lines.append("%s %s/%s state=%s weight=%s" % (lb, backend, server, info["state"], info["weight"]))
    return "\n".join(lines) + ("\n" if lines else "")


# -- shared logic --------------------------------------------------------------------


def snapshot(servers: ServerMap, names: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, Any]]:
    """The restorable part of a server map: {server: {"state", "weight"}}."""
    wanted = names if names is not None else sorted(servers)
    return {n: {"state": servers[n]["state"], "weight": servers[n]["weight"]} for n in wanted}


def processes(providers: Sequence[Provider]) -> Dict[str, Dict[str, int]]:
    """{lb id: process} of the load balancers whose runtime states a restart would lose (recorded at preflight)."""
    out = {}
    for provider in providers:
        found = provider.process()
        if found is not None:
            out[provider.id] = found
    return out


def check_same_process(
    providers: Sequence[Provider], recorded: Dict[str, Any], current: Dict[str, ServerMap], backend: str
) -> None:
    """LBRestartedError when a load balancer is not the process the deploy recorded at preflight.

    A reloaded or restarted HAProxy serves with its configuration's server states again: the drains and weights
    the deploy set there are gone, and a change planned on top of them would act on a fleet nobody described.
    """
    for provider in providers:
        was = recorded.get(provider.id)
        if not isinstance(was, dict):
            continue
        now = provider.process()
        if now is None or now == {"pid": was.get("pid"), "started": was.get("started")}:
            continue
        seen = ", ".join(
            "%s %s weight %s" % (name, info["state"], info["weight"])
            for name, info in sorted(current.get(provider.id, {}).items())
        )
        raise LBRestartedError(
            "%s %s was reloaded or restarted during this deploy (at preflight pid %s started at %s, now pid %s "
            "started at %s): its runtime server states fell back to its configuration, so the drains and weights "
            "this deploy set there are gone (backend %s now: %s). The deploy stops before any further change; the "
            "rollback puts back the states captured at preflight"
            % (
                provider.kind,
                provider.id,
                was.get("pid"),
                was.get("started"),
                now["pid"],
                now["started"],
                backend,
                seen,
            )
        )


def read_all(providers: Sequence[Provider], backend: str) -> Dict[str, ServerMap]:
    """Read every LB; the first unreachable one or unknown backend raises before anything changes."""
    return {p.id: p.read(backend) for p in providers}


def check_servers(provider: Provider, backend: str, current: ServerMap, names: Sequence[str]) -> None:
    for name in names:
        provider.check_name(name)
    missing = [n for n in names if n not in current]
    if missing:
        raise LBValidationError(
            "%s load balancer %s: backend %r has no server %s (it has: %s)"
            % (
                provider.kind,
                provider.id,
                backend,
                ", ".join(repr(m) for m in missing),
                ", ".join(sorted(current)) or "none",
            )
        )


def plan(provider: Provider, current: ServerMap, desired: Dict[str, Dict[str, Any]]) -> ServerMap:
    """Only what differs: {server: {"state"?: s, "weight"?: absolute int}}. Validates states and weights."""
    changes: ServerMap = {}
    for name, want in desired.items():
        info = current[name]
        change: Dict[str, Any] = {}
        state = want.get("state")
        if state is not None:
            if state not in STATES:
                raise LBValidationError(
                    "invalid state %r for server %r: use one of %s" % (state, name, ", ".join(STATES))
                )
            if state != info["state"]:
                change["state"] = state
        if want.get("weight") is not None:
            try:
                weight = provider.target_weight(info, want["weight"])
            except LBValidationError as exc:
                raise LBValidationError("server %r on %s: %s" % (name, provider.id, exc)) from exc
            if weight != info["weight"]:
                change["weight"] = weight
        if change:
            changes[name] = change
    return changes


def expected(current: ServerMap, changes: ServerMap) -> Dict[str, Dict[str, Any]]:
    after = snapshot(current)
    for name, change in changes.items():
        after[name].update(change)
    return after


#: What the one apply path does when a load balancer refuses its change. FORWARD (a change moving traffic: drain,
#: switch): put the load balancers already changed back as they were, then fail - every load balancer ends in the
#: same state. TAKE_OUT (a failing canary taken out of rotation): go on with the remaining load balancers - each one
#: that takes the canary out is better than none - and report which refused.
FORWARD = "forward"
TAKE_OUT = "take_out"


class ApplyReport:
    """What ``apply_all`` did: the load balancers changed (ids, in order) and, with TAKE_OUT, the ones that refused
    (id -> message)."""

    def __init__(self) -> None:
        self.applied: List[str] = []
        self.failed: Dict[str, str] = {}


def apply_all(
    providers: Sequence[Provider],
    backend: str,
    plans: Dict[str, ServerMap],
    before: Dict[str, ServerMap],
    on_failure: str = FORWARD,
) -> ApplyReport:
    """The one apply path: every change to a load balancer goes through here. Apply each LB's plan; when one fails,
    ``on_failure`` decides (FORWARD: undo and raise LBApplyError; TAKE_OUT: go on and report)."""
    report = ApplyReport()
    done: List[Provider] = []
    for provider in providers:
        changes = plans.get(provider.id) or {}
        try:
            provider.apply(backend, changes)
        except LBError as exc:
            if on_failure == TAKE_OUT:
                report.failed[provider.id] = "%s load balancer %s: %s" % (provider.kind, provider.id, exc)
                continue
            _fail_forward(done, provider, backend, plans, before, exc)
        done.append(provider)
        report.applied.append(provider.id)
    return report


def _fail_forward(
    done: Sequence[Provider],
    provider: Provider,
    backend: str,
    plans: Dict[str, ServerMap],
    before: Dict[str, ServerMap],
    exc: LBError,
) -> None:
    """A forward change failed on ``provider``: put the LBs already changed back as they were, then raise."""
    rolled_back = _undo(done, backend, plans, before)
    # The failing LB itself may be half-changed (HAProxy applies a batch in order).
    rolled_back = _undo([provider], backend, plans, before) and rolled_back
    raise LBApplyError(
        "%s load balancer %s: %s; %s"
        % (
            provider.kind,
            provider.id,
            exc,
            "every load balancer was put back as it was"
            if rolled_back
            else "putting the earlier load balancers back failed too: check them",
        ),
        rolled_back=rolled_back,
    ) from exc


def _undo(
    providers: Sequence[Provider], backend: str, plans: Dict[str, ServerMap], before: Dict[str, ServerMap]
) -> bool:
    ok = True
    for provider in providers:
        names = list(plans.get(provider.id) or {})
        original = snapshot(before[provider.id], names)
        try:
            now = provider.read(backend)
            provider.apply(backend, plan(provider, now, original))
        except LBError:
            ok = False
    return ok


# -- what the modules ask for ----------------------------------------------------------


def plan_drain(provider: Provider, current: ServerMap, names: Sequence[str], state: str):
    """drain_backend's two steps: (changes now, changes once drained).

    ``state`` is ``drained``, ``maint`` or ``ready``. Draining only moves a
    ready server to drain: a server already in drain or maint takes no new
    traffic (maint counts as drained). ``maint`` is drain, wait, then maint.
    """
    if state not in ("drained", "maint", "ready"):
        raise LBValidationError("invalid state %r: use drained, maint or ready" % (state,))
    if state == "ready":
        return plan(provider, current, {n: {"state": "ready"} for n in names}), {}
    first = plan(provider, current, {n: {"state": "drain"} for n in names if current[n]["state"] == "ready"})
    final: ServerMap = {}
    if state == "maint":
        final = {n: {"state": "maint"} for n in names if current[n]["state"] != "maint"}
    return first, final


def desired_states(
    servers: Optional[Dict[str, Any]],
    active: Optional[Sequence[str]] = None,
    standby: Optional[Sequence[str]] = None,
    standby_state: str = "drain",
) -> Dict[str, Dict[str, Any]]:
    """switch_traffic's wanted {server: {"state"?, "weight"?}} from ``servers`` and ``active``/``standby``."""
    desired: Dict[str, Dict[str, Any]] = {}
    for name, want in (servers or {}).items():
        if not isinstance(want, dict) or set(want) - {"state", "weight"}:
            raise LBValidationError("servers.%s must be a dict with state and/or weight, got %r" % (name, want))
        want = {k: v for k, v in want.items() if v is not None}
        if not want:
            raise LBValidationError("servers.%s sets nothing: give its state and/or weight" % name)
        if "state" in want and want["state"] not in STATES:
            raise LBValidationError(
                "servers.%s.state=%r is not a state: use %s" % (name, want["state"], ", ".join(STATES))
            )
        desired[name] = want
    active = list(active or [])
    standby = list(standby or [])
    both = sorted(set(active) & set(standby))
    if both:
        raise LBValidationError(
            "server(s) %s are in both active and standby: a server can only be in one" % ", ".join(both)
        )
    if standby_state not in ("drain", "maint"):
        raise LBValidationError("standby_state must be drain or maint, got %r" % (standby_state,))
    for names, state, where in ((active, "ready", "active"), (standby, standby_state, "standby")):
        for name in names:
            entry = desired.setdefault(name, {})
            if entry.get("state", state) != state:
                raise LBValidationError(
                    "server %s: servers.%s.state=%s contradicts its place in %s" % (name, name, entry["state"], where)
                )
            entry["state"] = state
    return desired


def restore_states(restore: Dict[str, Any], provider_ids: Sequence[str]) -> Dict[str, Dict[str, Dict[str, Any]]]:
    """Check a ``previous`` value given back as ``restore``: {lb: {server: {state, weight}}}."""
    unknown = sorted(set(restore) - set(provider_ids))
    if unknown:
        raise LBValidationError(
            "restore names load balancer(s) %s that are not in this call (%s): give the same socket/nginx as the "
            "call that returned it" % (", ".join(unknown), ", ".join(provider_ids))
        )
    out: Dict[str, Dict[str, Dict[str, Any]]] = {}
    for lb_id, servers in restore.items():
        if not isinstance(servers, dict):
            raise LBValidationError("restore[%r] must map server names to {state, weight}, got %r" % (lb_id, servers))
        out[lb_id] = {}
        for name, want in servers.items():
            if not isinstance(want, dict) or set(want) - {"state", "weight"} or "state" not in want:
                raise LBValidationError(
                    "restore[%r][%r] must be {state: ..., weight: ...} as returned in previous, got %r"
                    % (lb_id, name, want)
                )
            out[lb_id][name] = dict(want)
    return out


def read_back(providers: Sequence[Provider], backend: str, names: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """The live state after a change, per LB; an LB that cannot be read reports its error instead."""
    out: Dict[str, Any] = {}
    for provider in providers:
        try:
            out[provider.id] = snapshot(provider.read(backend), names)
        except LBError as exc:
            out[provider.id] = {"error": str(exc)}
    return out


def check_still_serving(before: Dict[str, ServerMap], after: Dict[str, Dict[str, Any]], backend: str) -> None:
    """LBValidationError when a change leaves a backend that served with no server taking traffic.

    A weight that rounds to 0, or a list of servers that drains the last ready one, would otherwise be applied
    without a word, and every request to that load balancer fail.
    """
    was, will = serving(before), serving(after)
    for lb_id in sorted(after):
        if was.get(lb_id) and not will.get(lb_id):
            states = ", ".join(
                "%s %s weight %s" % (name, info.get("state"), info.get("weight"))
                for name, info in sorted(after[lb_id].items())
            )
            raise LBValidationError(
                "this change leaves backend %r on %s with no server taking traffic (%s): nothing was changed; keep at "
                "least one server ready with a weight above 0 (now serving: %s)"
                % (backend, lb_id, states, ", ".join(was[lb_id]))
            )


def serving(states: Dict[str, Any]) -> Dict[str, List[str]]:
    """Per LB, the servers taking new traffic: state ready and weight above 0."""
    return {
        lb_id: sorted(
            name
            for name, info in servers.items()
            if isinstance(info, dict) and info.get("state") == "ready" and info.get("weight")
        )
        for lb_id, servers in states.items()
    }


class DrainOutcome:
    __slots__ = ("drain_seconds", "killed_sessions", "drained_at", "attempts", "timed_out")

    def __init__(self, drain_seconds: float, killed_sessions: int, drained_at: float, attempts: int, timed_out: bool):
        self.drain_seconds = drain_seconds
        self.killed_sessions = killed_sessions
        self.drained_at = drained_at
        self.attempts = attempts
        self.timed_out = timed_out


def unhealthy(current: ServerMap, names: Sequence[str]) -> List[str]:
    """Servers among ``names`` whose health checks do not pass (HAProxy's operational state is not running).

    nginx open source reports no health: its servers always count as healthy here."""
    return sorted(n for n in names if current.get(n, {}).get("operational_state", "running") not in ("running",))


def gaining_and_losing(current: ServerMap, changes: ServerMap):
    """(servers that start taking new traffic, servers that stop) in a planned change."""
    gaining, losing = [], []
    for name, change in changes.items():
        info = current[name]
        before = info["state"] == "ready" and info["weight"] > 0
        after = change.get("state", info["state"]) == "ready" and change.get("weight", info["weight"]) > 0
        if after and not before:
            gaining.append(name)
        elif before and not after:
            losing.append(name)
    return sorted(gaining), sorted(losing)


#: Seconds a change waits for the servers taking over traffic to pass their health checks (wait_healthy).
HEALTHY_TIMEOUT = 30.0


def wait_healthy(
    providers: Sequence[Provider],
    backend: str,
    plans: Dict[str, ServerMap],
    before: Dict[str, ServerMap],
    timeout: float,
    interval: float = 0.1,
    clock: Optional[Clock] = None,
) -> Dict[str, ServerMap]:
    """Before a change that moves traffic away from some servers, wait until the servers that take it over pass
    their health checks, so that no moment of the switch leaves nothing serving (a restarted colour is ready on its
    host before HAProxy's checks have seen it come back). A server in maint is set to drain first, so that it is
    checked (through the one apply path: when a load balancer refuses, the others are put back). Returns the fresh
    reads; raises LBValidationError when they are still unhealthy after ``timeout`` (nothing was changed but that
    drain)."""
    waiting = {
        p.id: gaining_and_losing(before[p.id], plans.get(p.id) or {})[0]
        for p in providers
        if gaining_and_losing(before[p.id], plans.get(p.id) or {})[1]
    }
    if not any(waiting.values()):
        return before
    # HAProxy does not check a server in maint: bring such a server to drain first (its checks start, it still
    # takes no new traffic), so that its health can be seen before it takes over
    waking = {
        pid: {
            n: {"state": "drain"}
            for n in names
            if before[pid][n]["state"] == "maint" and "operational_state" in before[pid][n]
        }
        for pid, names in waiting.items()
    }
    if any(waking.values()):
        apply_all(providers, backend, waking, before)
    last: Dict[str, Any] = {"states": before}

    def healthy() -> bool:
        last["states"] = read_all(providers, backend)
        return not any(unhealthy(last["states"][pid], names) for pid, names in waiting.items())

    try:
        wait_until(healthy, timeout, interval, clock=clock, description="servers taking over traffic healthy")
    except WaitTimeout:
        sick = {pid: unhealthy(last["states"][pid], names) for pid, names in waiting.items()}
        raise LBValidationError(
            "the servers that would take the traffic do not pass their health checks after %ss (%s); the traffic was "
            "not moved" % (timeout, "; ".join("%s: %s" % (pid, ", ".join(n)) for pid, n in sorted(sick.items()) if n))
        ) from None
    return last["states"]


def pending_all(providers: Sequence[Provider], backend: str, servers: Sequence[str]) -> Dict[str, Dict[str, int]]:
    return {p.id: p.pending(backend, servers) for p in providers}


def wait_drained(
    providers: Sequence[Provider],
    backend: str,
    servers: Sequence[str],
    timeout: float,
    interval: float,
    on_timeout: str = "fail",
    clock: Optional[Clock] = None,
    shutdown_grace: float = 10.0,
) -> DrainOutcome:
    """Wait until no drained server on any LB has a request left; then, on timeout, fail or shut them down."""
    clock = clock or Clock()
    started = clock.monotonic()
    last: Dict[str, Any] = {}

    def drained() -> bool:
        last["pending"] = pending_all(providers, backend, servers)
        return not any(n for per_lb in last["pending"].values() for n in per_lb.values())

    try:
        result = wait_until(drained, timeout, interval, clock=clock, description="servers drained")
        return DrainOutcome(round(result.elapsed, 3), 0, time.time(), result.attempts, False)
    except WaitTimeout as exc:
        remaining = {lb: {s: n for s, n in per.items() if n} for lb, per in last["pending"].items()}
        remaining = {lb: per for lb, per in remaining.items() if per}
        if on_timeout != "shutdown":
            raise DrainTimeout(
                "servers still busy after %ss: %s (raise timeout, or use on_timeout=shutdown to cut them off)"
                % (timeout, _describe(remaining)),
                remaining,
                exc.elapsed,
            ) from exc
        killed = sum(p.shutdown(backend, servers) for p in providers)
        try:
            result = wait_until(drained, shutdown_grace, interval, clock=clock, description="sessions shut down")
        except WaitTimeout as exc2:
            raise DrainTimeout(
                "sessions were shut down but some are still there after %ss: %s"
                % (shutdown_grace, _describe(remaining)),
                remaining,
                clock.monotonic() - started,
            ) from exc2
        return DrainOutcome(round(clock.monotonic() - started, 3), killed, time.time(), result.attempts, True)


def _describe(remaining: Dict[str, Dict[str, int]]) -> str:
    return "; ".join(
        "%s: %s" % (lb, ", ".join("%s=%d" % (s, n) for s, n in sorted(per.items())))
        for lb, per in sorted(remaining.items())
    )


# -- canary traffic shares --------------------------------------------------------------


def canary_weights(
    canary: Sequence[str], baseline: Sequence[str], percent: Any, max_weight: int = haproxy.MAX_WEIGHT
) -> Dict[str, int]:
    """HAProxy weights that send ``percent`` % of new requests to the canary servers.

    HAProxy's weighted algorithms (``roundrobin``, ``static-rr``, ``random``)
    share requests in proportion to the weights, so the canary share is
    ``C / (C + B)`` with C and B the sums of the canary and baseline weights.
    Every server keeps a weight between 1 and ``max_weight``; among those
    sums the pair closest to ``percent`` wins, then one that splits evenly
    over each group's servers, then the smallest (only the ratio matters). So
    5 % with one canary and three baseline servers is exactly 3 against 19 on
    each baseline server, and 99 % is 256 against 1, 1 and 1 (98.8 %), the
    closest the 0-256 range allows. Within a group, weights differ by at most
    1, so each group spreads its share evenly.

    0 % gives the canary servers weight 0 and the baseline 1; 100 % gives the
    baseline servers weight 0 and the canary 1. Weight 0 rather than ``drain``:
    a weight-0 server takes no new requests from the balancing algorithm yet
    stays ``ready`` with its health checks (as ``drain`` would), shows in
    ``serving()`` as not serving, and a later step is only a weight change;
    waiting for its in-flight requests is drain_backend's job. Share by
    request count assumes a weighted algorithm; ``leastconn`` and ``first``
    do not follow weights that way.

    ``canary_share(weights, canary)`` gives the share the weights achieve.
    """
    canary, baseline = list(canary), list(baseline)
    if not canary:
        raise LBValidationError("no canary servers: name at least one server to send the canary share to")
    both = sorted(set(canary) & set(baseline))
    if both:
        raise LBValidationError("server(s) %s are both canary and baseline: a server can only be one" % ", ".join(both))
    if len(set(canary)) != len(canary) or len(set(baseline)) != len(baseline):
        raise LBValidationError("a server is listed twice: name each canary and baseline server once")
    if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 <= percent <= 100:
        raise LBValidationError(
            "canary share %r: give a percentage of requests between 0 and 100 (5 sends 5 %% to the canary)" % (percent,)
        )
    if isinstance(max_weight, bool) or not isinstance(max_weight, int) or not 1 <= max_weight <= haproxy.MAX_WEIGHT:
        raise LBValidationError("max_weight %r: give an integer between 1 and %d" % (max_weight, haproxy.MAX_WEIGHT))
    target = Fraction(str(percent)) / 100
    if target < 1 and not baseline:
        raise LBValidationError(
            "canary share %s %% needs baseline servers to take the other %s %%: name them, or use 100"
            % (percent, 100 - percent)
        )
    c, b = len(canary), len(baseline)
    if target == 0:
        canary_total, baseline_total = 0, b
    elif target == 1:
        canary_total, baseline_total = c, 0
    else:
        best = None
        for canary_total in range(c, c * max_weight + 1):
            # For this canary sum the best baseline sum is next to C * (1 - t) / t.
            ideal = canary_total * (1 - target) / target
            for baseline_total in sorted({math.floor(ideal), math.ceil(ideal)}):
                baseline_total = max(b, min(b * max_weight, baseline_total))
                error = abs(Fraction(canary_total, canary_total + baseline_total) - target)
                uneven = (canary_total % c != 0) + (baseline_total % b != 0)
                key = (error, uneven, canary_total + baseline_total)
                if best is None or key < best[0]:
                    best = (key, canary_total, baseline_total)
        canary_total, baseline_total = best[1], best[2]
    weights = _spread(canary, canary_total)
    weights.update(_spread(baseline, baseline_total))
    return weights


def _spread(names: Sequence[str], total: int) -> Dict[str, int]:
    """``total`` over ``names`` as evenly as integers allow (the first ones get the remainder)."""
    if not names:
        return {}
    share, extra = divmod(total, len(names))
    return {name: share + (1 if index < extra else 0) for index, name in enumerate(names)}


def canary_share(weights: Dict[str, int], canary: Sequence[str]) -> float:
    """Percentage of new requests ``weights`` send to the ``canary`` servers (0.0 when every weight is 0)."""
    total = sum(weights.values())
    return 100.0 * sum(weights[n] for n in canary) / total if total else 0.0
