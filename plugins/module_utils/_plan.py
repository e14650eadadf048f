# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the deploy plan.

Every decision a deploy takes before its first change is made here, once, on
the controller (by the ``deploy_plan`` action plugin): which hosts, in which
batches, which backend server each host is, which load balancer and how to
reach it, where the lock and ledger live, how long the worst case takes. The
playbooks read the result, one fact, and compute nothing themselves. Every
problem in the input is collected and reported in one message before anything
changes.

``build_plan(variables, hosts, ...)`` is a pure function of the deploy
variables (``zerodown_*``, already templated) and the resolved host lists, so
it is unit-tested without Ansible.
"""

from __future__ import annotations

import math
import os
import re
import tarfile
import zlib
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils import _surge_plan
from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._lock import validate_app
from ansible_collections.zerodown.deploy.plugins.module_utils._release import validate_release
from ansible_collections.zerodown.deploy.plugins.module_utils._requirements import host_needs
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.canary import THRESHOLD_LIMITS
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.core import LBError, canary_weights
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import HAProxyNameError, validate_name
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.nginx_log import required_config

STRATEGIES = ("rolling", "blue_green", "canary")
#: Strategies whose role this version ships; the others are refused by the plan.
AVAILABLE_STRATEGIES = STRATEGIES
PROVIDERS = ("haproxy", "nginx")
MODES = ("deploy", "rollback", "contract")
#: The older spelling of zerodown_lb, still accepted (see the changelog's deprecation note).
LEGACY_LB_VARS = (
    "zerodown_lb_provider",
    "zerodown_haproxy_socket",
    "zerodown_haproxy_backend",
    "zerodown_haproxy_server_names",
)
HOOKS = (
    "before_stage",
    "after_stage",
    "before_switch",
    "after_switch",
    "before_allow_traffic",
    "after_deploy",
    "on_rollback",
)
_SHA256 = re.compile(r"(sha256:)?([0-9a-fA-F]{64})")
#: More hosts in one batch than this is a typo, not a fleet.
MAX_HOSTS = 100000
#: A canary step: the percentage of new requests sent to the canary servers.
STEP = validate.Limit(0, 100, unit="percent")

#: Variables that hold one string (a name, a host pattern, a path, a command); any other type is a problem.
STRING_VARIABLES = (
    "zerodown_app_name",
    "zerodown_release",
    "zerodown_strategy",
    "zerodown_app_hosts",
    "zerodown_lb_hosts",
    "zerodown_db_hosts",
    "zerodown_state_dir",
    "zerodown_artifact",
    "zerodown_artifact_checksum",
    "zerodown_exec_start",
    "zerodown_blue_group",
    "zerodown_green_group",
    "zerodown_standby",
    "zerodown_adopt_colour",
    "zerodown_canary_on_inconclusive",
    "zerodown_smoke_base_url",
    "zerodown_migrate_command",
    "zerodown_migrations_src",
    "zerodown_migrations_dir",
    "zerodown_lb_provider",
    "zerodown_haproxy_backend",
    "zerodown_surge_port_env",
)

DEFAULTS: Dict[str, Any] = {
    "zerodown_strategy": "rolling",
    "zerodown_app_hosts": "app",
    "zerodown_lb_hosts": "lb",
    "zerodown_db_hosts": "db",
    "zerodown_state_dir": "/var/lib/zerodown",
    "zerodown_batch_size": 1,
    "zerodown_drain_timeout": 60,
    "zerodown_stop_timeout": 30,
    "zerodown_ready_timeout": 60,
    "zerodown_app_port": 8080,
    "zerodown_lock_ttl": 0,
    "zerodown_artifact_checksum": "",
    "zerodown_blue_group": "blue",
    "zerodown_green_group": "green",
    "zerodown_standby": "keep",
    "zerodown_adopt_colour": "blue",
    "zerodown_canary_hosts": 1,
    "zerodown_canary_steps": [5, 25, 50, 100],
    "zerodown_canary_pause": 30,
    "zerodown_canary_min_requests": 100,
    "zerodown_canary_max_error_rate": 0.01,
    "zerodown_canary_max_latency_ratio": 1.5,
    "zerodown_canary_significance": 0.01,
    "zerodown_canary_min_latency_ms": 5.0,
    "zerodown_canary_min_latency_increase_ms": 50.0,
    "zerodown_canary_warmup": 5.0,
    "zerodown_canary_latency_looks": 3,
    "zerodown_canary_on_inconclusive": "pause",
    "zerodown_canary_max_wait": 120,
    "zerodown_bake_time": 0,
    "zerodown_rollout_analysis": True,
    "zerodown_rollout_watch": 10,
    "zerodown_rollout_batch_watch": 0,
    "zerodown_base_dir": "/opt",
    "zerodown_db_dialect": "postgresql",
    "zerodown_surge": False,
    "zerodown_surge_batch_size": "100%",
    "zerodown_surge_port_env": "PORT",
}


#: What the surge part of the plan reads (_surge_plan.plan), besides zerodown_surge and zerodown_surge_batch_size.
SURGE_VARIABLES = (
    "zerodown_surge_slots",
    "zerodown_surge_port_env",
    "zerodown_standby",
    "zerodown_service_name",
    "zerodown_app_name",
)


class PlanError(ValueError):
    """The deploy variables do not make a plan; ``problems`` lists every one of them."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            "the deploy variables have %d problem(s), nothing was changed:\n  - %s"
            % (len(self.problems), "\n  - ".join(self.problems))
        )


def batch_size(value: Any, host_count: int, what: str = "zerodown_batch_size") -> int:
    """Hosts per batch: a whole number, or a percentage of the hosts, floored, at least 1 (as Ansible's serial)."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and text.endswith("%"):
        try:
            percent = validate.number(text[:-1], what, validate.PERCENT)
        except validate.ValidationError:
            raise ValueError(
                "%s %s: a percentage must be more than 0 and at most 100, written with the digits 0-9"
                % (what, validate.shown(value))
            ) from None
        return max(int(host_count * percent / 100), 1)
    try:
        size = validate.whole_number_text(text, what)
    except validate.ValidationError:
        raise ValueError(
            "%s %s is not a number of hosts or a percentage such as 25%% (digits 0-9)" % (what, validate.shown(value))
        ) from None
    if not 1 <= size <= MAX_HOSTS:
        raise ValueError("%s %s must be 1 or more, at most %d" % (what, validate.shown(value), MAX_HOSTS))
    return size


def batches(hosts: Sequence[str], size: int) -> List[List[str]]:
    return [list(hosts[i : i + size]) for i in range(0, len(hosts), size)]


#: Seconds a host's release call may take beyond its stop and readiness timeouts (connection, switch, start).
HOST_CALL_MARGIN = 30


#: Seconds the lock TTL adds to the worst case when zerodown_lock_ttl is not given.
LOCK_TTL_MARGIN = 600


def worst_case_seconds(batch_count: int, drain: float, stop: float, ready: float) -> int:
    """The longest a deploy can take before its timeouts stop it: every batch at its limits, plus a fixed part."""
    return int(batch_count * (drain + stop + ready + 10) + 120)


def _number(
    variables: Dict[str, Any], name: str, problems: List[str], limit: validate.Limit = validate.TIMEOUT
) -> float:
    """The variable (or its default) within ``limit``; 0 and a problem when it is not."""
    try:
        return validate.number(variables.get(name, DEFAULTS.get(name)), name, limit)
    except validate.ValidationError as exc:
        problems.append(str(exc))
        return 0.0


def _lb_spec(variables: Dict[str, Any], problems: List[str], notes: List[str]) -> Dict[str, Any]:
    """``zerodown_lb`` as given, or built from the older zerodown_haproxy_* shorthand (with a deprecation note)."""
    given = variables.get("zerodown_lb")
    legacy = [name for name in LEGACY_LB_VARS if variables.get(name) not in (None, "", {})]
    if given in (None, "", {}):
        if legacy:
            notes.append(
                "%s are the older spelling of zerodown_lb (provider, socket, backend, servers); "
                "they will be removed in zerodown.deploy 1.0.0" % ", ".join(legacy)
            )
        return {
            "provider": variables.get("zerodown_lb_provider") or "haproxy",
            "socket": variables.get("zerodown_haproxy_socket") or "/run/haproxy/admin.sock",
            "backend": variables.get("zerodown_haproxy_backend"),
            "servers": variables.get("zerodown_haproxy_server_names") or {},
        }
    if not isinstance(given, dict):
        problems.append("zerodown_lb must be a dict (provider, socket or nginx, backend, servers), got %r" % (given,))
        given = {}
    if legacy:
        problems.append(
            "zerodown_lb is set, and so is the older shorthand %s: keep only zerodown_lb" % ", ".join(legacy)
        )
    return dict(given)


def _lb_backend(spec: Dict[str, Any], needed: bool, problems: List[str]) -> Optional[str]:
    """The backend (or nginx upstream) name, validated; missing is a problem only when the run needs it."""
    backend = spec.get("backend") or spec.get("upstream")
    if not backend and needed:
        problems.append(
            "zerodown_lb.backend is missing: name the HAProxy backend (or nginx upstream) holding the app servers"
        )
    elif backend:
        try:
            validate_name(backend, "zerodown_lb.backend")
        except HAProxyNameError as exc:
            problems.append(str(exc))
    return backend


def _lb_access(provider: str, spec: Dict[str, Any], problems: List[str]) -> Dict[str, Any]:
    """How the provider is reached: HAProxy's runtime API address(es), or nginx's files."""
    if provider == "haproxy":
        socket = spec.get("socket") or "/run/haproxy/admin.sock"
        sockets = [socket] if isinstance(socket, str) else list(socket) if isinstance(socket, list) else []
        if not sockets or not all(isinstance(s, str) and s for s in sockets):
            problems.append(
                "zerodown_lb.socket=%s must be the HAProxy runtime API address, or a list of them"
                % validate.shown(socket)
            )
        out: Dict[str, Any] = {"socket": sockets, "nginx": None}
        haproxy = _lb_haproxy(spec, problems)
        if haproxy is not None:
            out["haproxy"] = haproxy
        return out
    if provider == "nginx":
        nginx = spec.get("nginx")
        if not isinstance(nginx, dict) or not nginx.get("conf") or not nginx.get("servers_file"):
            problems.append(
                "zerodown_lb.provider=nginx needs zerodown_lb.nginx with conf (nginx.conf of the running nginx) and "
                "servers_file (the include file of the upstream's server lines)"
            )
            nginx = {}
        if spec.get("haproxy") not in (None, {}):
            problems.append(
                "zerodown_lb.haproxy is for provider haproxy (its log); with provider nginx give "
                "zerodown_lb.nginx.access_log instead"
            )
        return {"nginx": dict(nginx), "socket": None}
    return {}


def _lb_haproxy(spec: Dict[str, Any], problems: List[str]) -> Optional[Dict[str, Any]]:
    """``zerodown_lb.haproxy``: {log}, HAProxy's log as syslog writes it, for each request's response time."""
    haproxy = spec.get("haproxy")
    if haproxy in (None, {}):
        return None
    if not isinstance(haproxy, dict) or set(haproxy) - {"log"}:
        problems.append(
            "zerodown_lb.haproxy=%s must be a dict with log (the file syslog writes HAProxy's httplog lines to, "
            "e.g. {log: /var/log/haproxy.log})" % validate.shown(haproxy)
        )
        return None
    log = haproxy.get("log")
    if log in (None, ""):
        return None
    if not isinstance(log, str) or not os.path.isabs(log):
        problems.append(
            "zerodown_lb.haproxy.log=%s must be an absolute path: the file syslog (rsyslog) writes HAProxy's "
            "option httplog lines to, e.g. /var/log/haproxy.log" % validate.shown(log)
        )
        return None
    return {"log": log}


def _lb_servers(
    variables: Dict[str, Any],
    spec: Dict[str, Any],
    provider: str,
    app_hosts: Sequence[str],
    host_addresses: Dict[str, str],
    problems: List[str],
) -> Dict[str, str]:
    """Inventory host -> backend server: the inventory name for HAProxy, host:port as written in nginx's file."""
    mapping = spec.get("servers") or {}
    if not isinstance(mapping, dict):
        problems.append("zerodown_lb.servers must map inventory hosts to server names, got %r" % (mapping,))
        mapping = {}
    strangers = sorted(set(mapping) - set(app_hosts))
    if strangers:
        problems.append(
            "zerodown_lb.servers names host(s) %s that are not in the app hosts (%s)"
            % (", ".join(strangers), ", ".join(app_hosts) or "none")
        )
    port = int(_number(variables, "zerodown_app_port", problems, validate.PORT))
    servers = {}
    for host in app_hosts:
        if host in mapping:
            servers[host] = str(mapping[host])
        elif provider == "nginx":
            servers[host] = "%s:%s" % (host_addresses.get(host) or host, port)
        else:
            servers[host] = host
        if provider == "haproxy":
            try:
                validate_name(servers[host], "server name of %s" % host)
            except HAProxyNameError as exc:
                problems.append(str(exc))
    seen: Dict[str, str] = {}
    for host, server in servers.items():
        if server in seen:
            problems.append(
                "hosts %s and %s are both server %r: every app host needs its own" % (seen[server], host, server)
            )
        seen.setdefault(server, host)
    return servers


def load_balancer(
    variables: Dict[str, Any],
    app_hosts: Sequence[str],
    host_addresses: Dict[str, str],
    problems: List[str],
    needed: bool = True,
) -> Tuple[Dict[str, Any], List[str]]:
    """``zerodown_lb`` (or the older zerodown_haproxy_* shorthand) as one description; (lb, deprecation notes).

    Not ``needed`` (contract migrations touch no load balancer), a missing backend is no problem.
    """
    notes: List[str] = []
    spec = _lb_spec(variables, problems, notes)
    unknown = sorted(
        set(spec)
        - {"provider", "socket", "backend", "upstream", "nginx", "haproxy", "servers", "surge_servers", "api_timeout"}
    )
    if unknown:
        problems.append(
            "zerodown_lb has unknown key(s) %s; it takes provider, socket, nginx, haproxy, backend (or upstream), "
            "servers, surge_servers, api_timeout" % ", ".join(unknown)
        )
    provider = spec.get("provider") or "haproxy"
    if provider not in PROVIDERS:
        problems.append("zerodown_lb.provider=%r is not one of %s" % (provider, ", ".join(PROVIDERS)))
    out: Dict[str, Any] = {"provider": provider, "backend": _lb_backend(spec, needed, problems), "api_timeout": 5.0}
    try:
        out["api_timeout"] = validate.number(
            spec.get("api_timeout") or 5.0, "zerodown_lb.api_timeout", validate.TIMEOUT
        )
    except validate.ValidationError as exc:
        problems.append(str(exc))
    out.update(_lb_access(provider, spec, problems))
    out["servers"] = _lb_servers(variables, spec, provider, app_hosts, host_addresses, problems)
    # read by the surge plan only (build_plan takes it out again): not a key of the load_balancer option
    out["surge_servers"] = spec.get("surge_servers")
    return out, notes


def counters_problem(lb: Dict[str, Any], needed_by: str) -> Optional[str]:
    """Why the plan's load balancer (``load_balancer()``) cannot give per-server counters; None when it can.

    Whatever judges servers from the load balancer's own counts (a canary step, a bake time) asks here, so
    that every such feature accepts and refuses the same load balancers, with the same advice.
    ``needed_by`` starts the message: "zerodown_strategy=canary judges each step".
    """
    if lb.get("provider") != "nginx":
        return None  # HAProxy counts per server in its runtime API
    access_log = (lb.get("nginx") or {}).get("access_log")
    if isinstance(access_log, str) and os.path.isabs(access_log):
        return None
    given = "" if access_log in (None, "") else " (%r is not an absolute path)" % (access_log,)
    return (
        "%s from the load balancer's per-server counters, which nginx open source does not keep: set "
        "zerodown_lb.nginx.access_log%s to an access log that nginx on each load-balancer host writes with %s "
        "(the analysis reads it on the lock host, the first load-balancer host)" % (needed_by, given, required_config())
    )


def artifact(variables: Dict[str, Any], problems: List[str], sha256_of) -> Dict[str, Any]:
    source = variables.get("zerodown_artifact") or ""
    checksum = str(variables.get("zerodown_artifact_checksum") or "")
    out: Dict[str, Any] = {"src": None, "url": None, "sha256": ""}
    if not isinstance(source, str):
        problems.append("zerodown_artifact=%s must be a path or an http(s) URL" % validate.shown(source))
        return out
    if checksum:
        match = _SHA256.fullmatch(checksum.strip())
        if not match:
            problems.append(
                "zerodown_artifact_checksum=%r is not a sha256 (64 hex digits, optionally prefixed sha256:)" % checksum
            )
        else:
            out["sha256"] = match.group(2).lower()
    if not source:
        problems.append("zerodown_artifact is missing: a release tarball on the controller, or an http(s) URL")
        return out
    if re.match(r"^https?://", source):
        out["url"] = source
        if not checksum:
            problems.append("zerodown_artifact is a URL (%s): set zerodown_artifact_checksum (its sha256)" % source)
        return out
    if not os.path.isfile(source):
        problems.append("zerodown_artifact %s is not a file on the controller" % source)
        return out
    out["src"] = source
    out["bytes"] = os.path.getsize(source)
    out["unpacked_bytes"] = unpacked_size(source)
    actual = sha256_of(source)
    if out["sha256"] and actual != out["sha256"]:
        problems.append(
            "zerodown_artifact %s has sha256 %s, not zerodown_artifact_checksum %s" % (source, actual, out["sha256"])
        )
    out["sha256"] = actual
    return out


def unpacked_size(path: str) -> Optional[int]:
    """What a release tarball unpacks to (its files' sizes), or None when it cannot be read as one.

    The release module refuses an unreadable artifact with its own message; here the size only sizes the
    preflight's disk check.
    """
    try:
        with tarfile.open(path) as tar:
            return sum(member.size for member in tar if member.isfile())
    except (tarfile.TarError, OSError, EOFError, zlib.error):
        return None


def migrate_host(variables: Dict[str, Any], db_hosts: Sequence[str], migrations_plan: Dict[str, Any]) -> Optional[str]:
    """The host that applies SQL migration files with a database driver (the migrate role's default), or None.

    A migration command is the application's own tool, which brings its own driver.
    """
    if migrations_plan["source"] not in ("controller directory", "directory on the migrate host"):
        return None
    return variables.get("zerodown_migrate_host") or (db_hosts[0] if db_hosts else "localhost")


def hooks(variables: Dict[str, Any], problems: List[str], check_hook=None) -> Dict[str, str]:
    """Each hook's task file, which must be a readable file on the controller now, and load as tasks
    (``check_hook(path)``: the problem, or None): a hook that cannot be included would otherwise fail only when its
    point of the deploy is reached, an unknown module there stopping ansible-playbook outright (the action plugin has
    made a relative path absolute, from the directory ansible-playbook runs in)."""
    out = {}
    for name in HOOKS:
        variable = "zerodown_hook_%s" % name
        value = variables.get(variable) or ""
        if not isinstance(value, str):
            problems.append("%s must be the path of a task file, got %r" % (variable, value))
            value = ""
        elif value and not (os.path.isfile(value) and os.access(value, os.R_OK)):
            problems.append(
                "%s=%s is not a readable file on the controller: give the path of a task file of yours, absolute "
                "or relative to the directory ansible-playbook runs in (e.g. hooks/%s.yml)" % (variable, value, name)
            )
        elif value and check_hook is not None:
            problem = check_hook(value)
            if problem:
                problems.append("%s=%s cannot be loaded as a task file: %s" % (variable, value, problem))
        out[name] = value
    return out


def entry_url(variables: Dict[str, Any], lb_hosts: Sequence[str], host_addresses: Dict[str, str]) -> str:
    """Where users reach the application: zerodown_smoke_base_url, else the first load balancer's address."""
    given = variables.get("zerodown_smoke_base_url")
    if given:
        return str(given).rstrip("/")
    if not lb_hosts:
        return ""
    return "http://%s:%s" % (host_addresses.get(lb_hosts[0]) or lb_hosts[0], variables.get("zerodown_lb_port") or 80)


def migrations(variables: Dict[str, Any]) -> Dict[str, Any]:
    for key, kind in (
        ("zerodown_migrate_command", "command"),
        ("zerodown_migrations_src", "controller directory"),
        ("zerodown_migrations_dir", "directory on the migrate host"),
    ):
        value = variables.get(key)
        if value:
            files: Optional[List[str]] = None
            if key == "zerodown_migrations_src" and os.path.isdir(value):
                files = sorted(n for n in os.listdir(value) if n.endswith(".sql"))
            return {"source": kind, "location": value, "files": files}
    return {"source": "none", "location": "", "files": []}


def _setting(variables: Dict[str, Any], name: str) -> Any:
    value = variables.get(name)
    return DEFAULTS[name] if value in (None, "") else value


def blue_green(
    variables: Dict[str, Any],
    app_hosts: Sequence[str],
    groups: Dict[str, Sequence[str]],
    servers: Dict[str, str],
    problems: List[str],
) -> Dict[str, Any]:
    """The two colours (inventory groups or host patterns, resolved in ``groups``, in app-host order); which one is
    live is read from the load balancer."""
    colours = {}
    for colour in ("blue", "green"):
        group = _setting(variables, "zerodown_%s_group" % colour)
        members = [h for h in app_hosts if h in set(groups.get(group) or [])]
        if not members:
            problems.append(
                "zerodown_strategy=blue_green: the %s group %r (zerodown_%s_group) has no app host; put half of "
                "the app hosts in it" % (colour, group, colour)
            )
        colours[colour] = members
    both = sorted(set(colours["blue"]) & set(colours["green"]))
    if both:
        problems.append("host(s) %s are in both the blue and the green group" % ", ".join(both))
    neither = [h for h in app_hosts if h not in colours["blue"] and h not in colours["green"]]
    if neither:
        problems.append("app host(s) %s are in neither the blue nor the green group" % ", ".join(neither))
    standby = _setting(variables, "zerodown_standby")
    if standby not in ("keep", "stop"):
        problems.append("zerodown_standby=%r must be keep (instant rollback) or stop" % (standby,))
    adopt = _setting(variables, "zerodown_adopt_colour")
    if adopt not in ("blue", "green"):
        problems.append("zerodown_adopt_colour=%r must be blue or green" % (adopt,))
    return {
        "colours": colours,
        "servers": {c: [servers.get(h, h) for h in hosts] for c, hosts in colours.items()},
        "standby": standby,
        "adopt": adopt,
    }


def _canary_hosts(variables: Dict[str, Any], app_hosts: Sequence[str], problems: List[str]) -> Tuple[list, list]:
    """(canary hosts, baseline hosts): the first ones, a count or a percentage; at least one baseline host."""
    count = 1
    try:
        count = batch_size(_setting(variables, "zerodown_canary_hosts"), len(app_hosts), "zerodown_canary_hosts")
    except ValueError as exc:
        problems.append(str(exc))
    if count >= len(app_hosts):
        problems.append(
            "zerodown_canary_hosts=%r takes %d of the %d app hosts: leave at least one baseline host"
            % (_setting(variables, "zerodown_canary_hosts"), count, len(app_hosts))
        )
        count = max(len(app_hosts) - 1, 0)
    return list(app_hosts[:count]), list(app_hosts[count:])


def _step_servers(weights: Dict[str, Any], canary_servers: List[str], provider: str) -> Dict[str, Any]:
    """switch_traffic's servers option: every weight, and the canary servers back in the pool."""
    return {
        name: (
            {"state": "drain"}
            if weight == 0 and provider == "nginx"
            else dict({"weight": weight}, **({"state": "ready"} if name in canary_servers else {}))
        )
        for name, weight in weights.items()
    }


def _canary_steps(
    raw_steps: Any,
    canary_servers: Optional[List[str]],
    baseline_servers: List[str],
    problems: List[str],
    weights_for,
    provider: str,
) -> List[Dict[str, Any]]:
    """The rising percentages, each with its weights when there are canary and baseline servers to weigh."""
    steps: List[Dict[str, Any]] = []
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append("zerodown_canary_steps must be a list of percentages such as [5, 25, 50, 100]")
        raw_steps = []
    last = 0.0
    for value in raw_steps:
        try:
            percent = validate.number(value, "zerodown_canary_steps", STEP)
        except validate.ValidationError:
            problems.append("zerodown_canary_steps: %s is not a percentage from 0 to 100" % validate.shown(value))
            continue
        if not last < percent <= 100:
            problems.append("zerodown_canary_steps must rise, each above 0 and at most 100; %r does not" % (value,))
            continue
        last = percent
        step: Dict[str, Any] = {"percent": percent, "name": "canary %g%%" % percent}
        if canary_servers is not None:
            try:
                weights = weights_for(canary_servers, baseline_servers, percent)
            except (ValueError, LBError) as exc:
                problems.append("zerodown_canary_steps %r: %s" % (value, exc))
                weights = {}
            step["weights"] = weights
            step["servers"] = _step_servers(weights, canary_servers, provider)
        steps.append(step)
    return steps


def canary(
    variables: Dict[str, Any],
    app_hosts: Sequence[str],
    servers: Dict[str, str],
    problems: List[str],
    weights_for,
    provider: str = "haproxy",
) -> Dict[str, Any]:
    """Canary hosts (the first ones, a count or a percentage), the steps with their weights, the thresholds.

    nginx has no weight 0: a server that a step gives no share (the baseline at 100 %) is drained instead,
    which also takes no new requests and lets those in flight finish."""
    hosts, baseline = _canary_hosts(variables, app_hosts, problems)
    weighed = hosts and baseline  # no weights to compute without both sides
    steps = _canary_steps(
        _setting(variables, "zerodown_canary_steps"),
        [servers[h] for h in hosts] if weighed else None,
        [servers[h] for h in baseline] if weighed else [],
        problems,
        weights_for,
        provider,
    )
    numbers = {
        key: _number(variables, key, problems, validate.WAIT)
        for key in ("zerodown_canary_pause", "zerodown_canary_max_wait")
    }
    on_inconclusive = _setting(variables, "zerodown_canary_on_inconclusive")
    if on_inconclusive not in ("pause", "fail"):
        problems.append("zerodown_canary_on_inconclusive=%r must be pause or fail" % (on_inconclusive,))
    return {
        "hosts": hosts,
        "baseline": baseline,
        "servers": [servers[h] for h in hosts if h in servers],
        "baseline_servers": [servers[h] for h in baseline if h in servers],
        "steps": steps,
        "pause": numbers["zerodown_canary_pause"],
        "on_inconclusive": on_inconclusive,
        # pause: keep reading the counters up to max_wait for enough canary requests; fail: judge once
        "max_wait": numbers["zerodown_canary_max_wait"] if on_inconclusive == "pause" else 0.0,
        **thresholds(variables, problems),
    }


def thresholds(variables: Dict[str, Any], problems: List[str]) -> Dict[str, Any]:
    """What a canary step and the bake window are judged against: every field of lb/canary.py's Thresholds, from
    the zerodown_canary_<field> variables (canary_analysis's options of the same names, in the same ranges; the
    plan's ``thresholds``, given whole as canary_analysis's ``thresholds``); a bad one is a problem, and its default
    stands in."""
    out = {}
    for name in THRESHOLD_LIMITS:
        key = "zerodown_canary_" + name
        try:
            out[name] = validate.number(_setting(variables, key), key, THRESHOLD_LIMITS[name])
        except validate.ValidationError as exc:
            problems.append(str(exc))
            out[name] = DEFAULTS[key]
    return out


def bake(variables: Dict[str, Any], lb: Dict[str, Any], problems: List[str]) -> Dict[str, Any]:
    """The bake window after the last switch: its length (0: none) and the thresholds of the canary analysis."""
    window = _number(variables, "zerodown_bake_time", problems, validate.WAIT)
    problem = counters_problem(lb, "zerodown_bake_time=%g judges the new release" % window) if window else None
    if problem:
        problems.append(problem)
    return dict({"time": window}, **thresholds(variables, problems))


def traffic(lb: Dict[str, Any]) -> Dict[str, Any]:
    """Whether the deploy can count the requests the load balancer saw fail from the snapshot at preflight to its
    end (canary_analysis state=snapshot, then state=tally), and why not."""
    problem = counters_problem(lb, "the deploy's summary counts the failed requests")
    return {"measured": problem is None, "reason": problem}


#: How a yes/no deploy variable may be written (as Ansible's own booleans, -e gives strings).
BOOLEANS = {
    True: True,
    False: False,
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}


def flag(variables: Dict[str, Any], name: str, problems: List[str]) -> bool:
    """A yes/no deploy variable (or its default); False and a problem when it is neither."""
    given = _setting(variables, name)
    key = given.strip().lower() if isinstance(given, str) else given
    value = BOOLEANS.get(key) if isinstance(key, (bool, int, str)) else None
    if value is None:
        problems.append("%s=%s must be true or false" % (name, validate.shown(given)))
        return False
    return value


def rollout_analysis(
    variables: Dict[str, Any], lb: Dict[str, Any], strategy: str, problems: List[str]
) -> Dict[str, Any]:
    """The analysis during the rollout (canary_analysis state=rollout): each rolling batch judges the batches that
    moved before it, and blue-green watches the new colour after the switch, before the old colour may stop.

    On by default; off (with a note in the plan's summary, not a problem) where the load balancer gives no per-server counters (nginx
    without zerodown_lb.nginx.access_log), and for the canary strategy, which judges its own steps."""
    enabled = flag(variables, "zerodown_rollout_analysis", problems)
    watch = _number(variables, "zerodown_rollout_watch", problems, validate.WAIT)
    batch_watch = _number(variables, "zerodown_rollout_batch_watch", problems, validate.WAIT)
    if enabled and strategy not in ("rolling", "blue_green"):
        enabled = False
    problem = counters_problem(lb, "zerodown_rollout_analysis judges the moved servers") if enabled else None
    return {"enabled": enabled and not problem, "watch": watch, "batch_watch": batch_watch, "note": problem or ""}


def _run_identity(variables: Dict[str, Any], mode: str, problems: List[str]) -> Tuple[str, str, str]:
    """(app, release, strategy), each checked; a variable that must be a string and is not is dropped."""
    for name in STRING_VARIABLES:
        if variables.get(name) is not None and not isinstance(variables[name], str):
            problems.append("%s=%s must be a string" % (name, validate.shown(variables.pop(name))))
    app = variables.get("zerodown_app_name") or ""
    try:
        validate_app(app, "zerodown_app_name")
    except ValueError as exc:
        problems.append(str(exc))
    release = variables.get("zerodown_release") or ""
    if mode != "rollback":
        try:
            validate_release(release, "zerodown_release")
        except ValueError as exc:
            problems.append(str(exc))
    strategy = variables.get("zerodown_strategy") or DEFAULTS["zerodown_strategy"]
    if strategy not in STRATEGIES:
        problems.append("zerodown_strategy=%r is not one of %s" % (strategy, ", ".join(STRATEGIES)))
    elif mode == "deploy" and strategy not in AVAILABLE_STRATEGIES:
        problems.append(
            "zerodown_strategy=%s is not available in this version of zerodown.deploy; use %s"
            % (strategy, " or ".join(AVAILABLE_STRATEGIES))
        )
    return app, release, strategy


def _host_problems(
    variables: Dict[str, Any], app_hosts: Sequence[str], lb_hosts: Sequence[str], problems: List[str]
) -> None:
    if not app_hosts:
        problems.append(
            "no host matches the app pattern %r (zerodown_app_hosts)"
            % (variables.get("zerodown_app_hosts") or DEFAULTS["zerodown_app_hosts"])
        )
    if not lb_hosts:
        problems.append(
            "no host matches the load-balancer pattern %r (zerodown_lb_hosts); the lock and ledger live on its first host"
            % (variables.get("zerodown_lb_hosts") or DEFAULTS["zerodown_lb_hosts"])
        )
    both = sorted(set(app_hosts) & set(lb_hosts))
    if both:
        problems.append(
            "host(s) %s are both app and load-balancer hosts; keep the two patterns apart" % ", ".join(both)
        )


def _timeouts(variables: Dict[str, Any], problems: List[str]) -> Dict[str, Any]:
    timeouts = {
        "drain": _number(variables, "zerodown_drain_timeout", problems),
        "stop": _number(variables, "zerodown_stop_timeout", problems),
        "ready": _number(variables, "zerodown_ready_timeout", problems),
    }
    # the longest one host's stop/switch/start/ready call may take: past it the task is given up (a host whose
    # SSH connection hangs, cut off without a reset, must not hold the deploy)
    timeouts["host_call"] = int(timeouts["stop"] + timeouts["ready"] + HOST_CALL_MARGIN)
    return timeouts


def _strategy_plan(
    variables: Dict[str, Any],
    mode: str,
    strategy: str,
    app_hosts: Sequence[str],
    lb: Dict[str, Any],
    groups: Optional[Dict[str, Sequence[str]]],
    problems: List[str],
    weights_for,
) -> Tuple[Dict[str, Any], List[str]]:
    """(the strategy's own part of the plan, the hosts the rolling batches take)."""
    if mode == "contract":
        return {}, list(app_hosts)
    if strategy == "blue_green":
        return {"blue_green": blue_green(variables, app_hosts, groups or {}, lb["servers"], problems)}, list(app_hosts)
    if strategy == "canary":
        problem = counters_problem(lb, "zerodown_strategy=canary judges each step") if mode == "deploy" else None
        if problem:
            problems.append(problem)
        plan = canary(variables, app_hosts, lb["servers"], problems, weights_for, lb["provider"])
        return {"canary": plan}, plan["baseline"]  # promoted with the rolling batches after the canary steps
    return {}, list(app_hosts)


def _worst_case(batch_count: int, timeouts: Dict[str, Any], strategy_plan: Dict[str, Any]) -> int:
    """The longest the strategy can take at its timeouts (the bake window is added by the caller)."""
    if "blue_green" in strategy_plan:
        return worst_case_seconds(1, timeouts["drain"] * 2, timeouts["stop"], timeouts["ready"])
    worst = worst_case_seconds(batch_count, timeouts["drain"], timeouts["stop"], timeouts["ready"])
    if "canary" in strategy_plan:
        c = strategy_plan["canary"]
        worst += int(len(c["steps"]) * (c["pause"] + c["max_wait"]) + timeouts["drain"] + timeouts["ready"])
    return worst


def _lock_ttl(variables: Dict[str, Any], worst: int, problems: List[str]) -> int:
    """zerodown_lock_ttl when given (never below the worst case), else the worst case plus a margin."""
    ttl = worst + LOCK_TTL_MARGIN
    if variables.get("zerodown_lock_ttl"):
        given = int(_number(variables, "zerodown_lock_ttl", problems, validate.WHOLE_SECONDS))
        if given and given < worst:
            # the lock would expire while the deploy may still be running, and another run may then take it over
            problems.append(
                "zerodown_lock_ttl is %d s, less than the %d s this deploy can take at its timeouts (its worst case): "
                "the lock could expire mid-deploy and a second deploy take it over; remove zerodown_lock_ttl (the plan "
                "then uses %d s, the worst case plus %d s) or set it to at least %d"
                % (given, worst, worst + LOCK_TTL_MARGIN, LOCK_TTL_MARGIN, worst)
            )
        return given or ttl
    if ttl > validate.MAX_SECONDS:
        problems.append(
            "the deploy can take %d s at its timeouts, more than the %d s a lock may be held: lower the timeouts "
            "(zerodown_drain_timeout, zerodown_stop_timeout, zerodown_ready_timeout) or put more hosts in a batch"
            % (worst, validate.MAX_SECONDS)
        )
    return ttl


def _deploy_parts(
    plan: Dict[str, Any], variables: Dict[str, Any], db_hosts: Sequence[str], problems: List[str], sha256_of
) -> None:
    """What only a deploy needs: the artifact and what each host must have."""
    if not variables.get("zerodown_exec_start"):
        problems.append("zerodown_exec_start is missing: the command the systemd unit runs from current")
    plan["artifact"] = artifact(variables, problems, sha256_of)
    plan["requirements"] = host_needs(
        plan["app_hosts"],
        plan["lb_hosts"],
        plan["lb"],
        str(_setting(variables, "zerodown_base_dir")),
        plan["app"],
        plan["release"],
        plan["artifact"].get("bytes"),
        plan["artifact"].get("unpacked_bytes"),
        migrate_host(variables, db_hosts, plan["migrations"]),
        str(_setting(variables, "zerodown_db_dialect")),
    )


def build_plan(
    variables: Dict[str, Any],
    mode: str,
    app_hosts: Sequence[str],
    lb_hosts: Sequence[str],
    db_hosts: Sequence[str],
    host_addresses: Dict[str, str],
    identity: Dict[str, str],
    sha256_of,
    groups: Optional[Dict[str, Sequence[str]]] = None,
    weights_for=canary_weights,
    check_hook=None,
) -> Dict[str, Any]:
    """The plan, or PlanError listing every problem. ``identity``: run_id, owner, controller; ``check_hook``: see
    hooks()."""
    problems: List[str] = []
    if mode not in MODES:
        raise PlanError(["mode=%r is not one of %s" % (mode, ", ".join(MODES))])
    nul = validate.nul_problem(variables)
    if nul:
        raise PlanError([nul])
    variables = dict(variables)
    app, release, strategy = _run_identity(variables, mode, problems)
    _host_problems(variables, app_hosts, lb_hosts, problems)
    lb, notes = load_balancer(variables, app_hosts, host_addresses, problems, needed=mode != "contract")
    surge_servers = lb.pop("surge_servers")
    surge_plan = _surge_plan.plan(
        flag(variables, "zerodown_surge", problems) and mode != "contract",
        {name: variables.get(name) for name in SURGE_VARIABLES},
        strategy,
        lb,
        host_addresses,
        int(_number(variables, "zerodown_app_port", [], validate.PORT) or DEFAULTS["zerodown_app_port"]),
        surge_servers,
        problems,
    )
    state_dir = variables.get("zerodown_state_dir") or DEFAULTS["zerodown_state_dir"]
    if not os.path.isabs(str(state_dir)):
        problems.append("zerodown_state_dir=%r must be an absolute path" % (state_dir,))
    size = 1
    # with surge, the hosts that start a second instance at once (zerodown_surge_batch_size, default all)
    size_variable = "zerodown_surge_batch_size" if surge_plan else "zerodown_batch_size"
    try:
        size = batch_size(variables.get(size_variable, DEFAULTS[size_variable]), len(app_hosts), size_variable)
    except ValueError as exc:
        problems.append(str(exc))
    timeouts = _timeouts(variables, problems)
    strategy_plan, rolled = _strategy_plan(variables, mode, strategy, app_hosts, lb, groups, problems, weights_for)
    plan_batches = batches(rolled, size)
    worst = _worst_case(len(plan_batches), timeouts, strategy_plan)
    bake_plan = bake(variables, lb, problems) if mode == "deploy" else {"time": 0.0}
    worst += int(bake_plan["time"])
    rollout_plan = {"enabled": False, "watch": 0.0, "batch_watch": 0.0, "note": ""}
    if mode == "deploy":
        rollout_plan = rollout_analysis(variables, lb, strategy, problems)
    if rollout_plan["enabled"]:
        watched = rollout_plan["watch"] if strategy == "blue_green" else rollout_plan["batch_watch"] * len(plan_batches)
        worst += int(math.ceil(watched))
    ttl = _lock_ttl(variables, worst, problems)
    plan: Dict[str, Any] = {
        "mode": mode,
        "app": app,
        "release": release,
        "strategy": strategy,
        "role": "zerodown.deploy.%s" % strategy,
        "run_id": identity["run_id"],
        "owner": identity["owner"],
        "controller": identity["controller"],
        "controller_process": identity.get("controller_process"),
        "app_hosts": list(app_hosts),
        "lb_hosts": list(lb_hosts),
        "db_hosts": list(db_hosts),
        "lock_host": lb_hosts[0] if lb_hosts else None,
        "state_dir": state_dir,
        "lb": lb,
        "servers": lb["servers"],
        "batch_size": size,
        "batches": plan_batches,
        # a rollback's first step takes every moved host out at once where the hosts that did not move can carry
        # the traffic alone (blue-green's old colour, the canary's baseline); a rolling rollback keeps its capacity
        # and takes them out batch by batch (_ledger.rollback_plan)
        "rollback_drains_moved": strategy in ("blue_green", "canary"),
        "timeouts": timeouts,
        "worst_case_seconds": worst,
        "lock_ttl": ttl,
        "hooks": hooks(variables, problems, check_hook),
        "entry_url": entry_url(variables, lb_hosts, host_addresses),
        # what the modules' ``ledger`` option needs besides the step itself
        "ledger": {"app": app, "path": state_dir, "run_id": identity["run_id"], "servers": lb["servers"]},
        "migrations": migrations(variables),
        "bake": bake_plan,
        # every threshold of the canary analysis, for canary_analysis's ``thresholds`` (canary steps and bake window);
        # a bad value is reported by canary() or bake()
        "thresholds": thresholds(variables, []),
        "traffic": traffic(lb),
        "rollout_analysis": rollout_plan,
        "deprecations": notes,
    }
    plan.update(strategy_plan)
    if surge_plan:
        surge_plan["batch_size"] = size
        plan["surge"] = surge_plan
    if mode == "deploy":
        _deploy_parts(plan, variables, db_hosts, problems, sha256_of)
    if problems:
        raise PlanError(problems)
    plan["summary"] = summary(plan)
    return plan


def summary(plan: Dict[str, Any]) -> List[str]:
    """What check mode and the first lines of a run print."""
    lines = [
        "%s %s of %s, strategy %s, run %s by %s on %s"
        % (
            plan["mode"],
            plan["release"] or "-",
            plan["app"],
            plan["strategy"],
            plan["run_id"],
            plan["owner"],
            plan["controller"],
        ),
        "%d batch(es) of up to %d: %s"
        % (len(plan["batches"]), plan["batch_size"], " | ".join(", ".join(b) for b in plan["batches"])),
        "load balancer: %s backend %s on %s (lock and ledger on %s)"
        % (plan["lb"]["provider"], plan["lb"]["backend"], ", ".join(plan["lb_hosts"]), plan["lock_host"]),
        "worst case (from the timeouts): %d s; lock TTL %d s" % (plan["worst_case_seconds"], plan["lock_ttl"]),
        "migrations: %s%s"
        % (
            plan["migrations"]["source"],
            (" " + plan["migrations"]["location"]) if plan["migrations"]["location"] else "",
        ),
    ]
    if "blue_green" in plan:
        bg = plan["blue_green"]
        lines.append(
            "colours: blue = %s; green = %s; the live colour is read from the load balancer (adopting: %s stays "
            "live); the old colour is then %s"
            % (
                ", ".join(bg["colours"]["blue"]),
                ", ".join(bg["colours"]["green"]),
                bg["adopt"],
                "kept on standby" if bg["standby"] == "keep" else "stopped",
            )
        )
    if "canary" in plan:
        c = plan["canary"]
        lines.append(
            "canary hosts %s, steps %s %% of requests (pause %g s, at least %d canary requests, error rate <= %g, "
            "latency ratio <= %g, inconclusive: %s), then the rest in the batches above"
            % (
                ", ".join(c["hosts"]),
                "/".join("%g" % s["percent"] for s in c["steps"]),
                c["pause"],
                c["min_requests"],
                c["max_error_rate"],
                c["max_latency_ratio"],
                c["on_inconclusive"],
            )
        )
    if plan["bake"]["time"]:
        b = plan["bake"]
        lines.append(
            "bake: %g s after the last switch, the new release against the counters before the deploy (at least %d "
            "requests, error rate <= %g, latency ratio <= %g); a breach rolls back"
            % (b["time"], b["min_requests"], b["max_error_rate"], b["max_latency_ratio"])
        )
    r = plan["rollout_analysis"]
    if r["enabled"]:
        during = (
            "before each batch moves, the batches that moved are judged against the servers not moved yet%s"
            % (" (watched %g s)" % r["batch_watch"] if r["batch_watch"] else "")
            if plan["strategy"] == "rolling"
            else "the new colour is watched %g s after the switch, before the old colour may stop" % r["watch"]
        )
        lines.append("analysis during the rollout: %s; a breach rolls back" % during)
    elif r["note"]:
        lines.append("analysis during the rollout: off - %s" % r["note"])
    if "surge" in plan:
        lines += _surge_plan.summary(plan["surge"], plan["batch_size"])
    active = [name for name, path in plan["hooks"].items() if path]
    if active:
        lines.append("hooks: %s" % ", ".join(active))
    return lines
