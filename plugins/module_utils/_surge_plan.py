# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the surge part of the deploy plan (docs/surge.md).

Pure functions of the deploy variables, called by ``_plan.build_plan``: the two slots and their ports, and each app
host's server per slot on the load balancer (``{host: {slot: server}}``), every problem appended to ``problems``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import HAProxyNameError, validate_name
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.nginx import NginxError, validate_address

#: The strategies that take zerodown_surge (blue-green's old colour already runs beside the new one).
STRATEGIES = ("rolling", "canary")
STANDBY = ("keep", "stop")
#: What zerodown_surge_slots looks like, for the refusals.
SLOTS_HINT = "two slots as [{name: a, port: 8080}, {name: b, port: 8081}]"


def default_slots(app_port: int) -> List[Dict[str, Any]]:
    """The home slot on zerodown_app_port (where today's single unit listens: adoption), the other one port up."""
    return [{"name": "a", "port": app_port}, {"name": "b", "port": app_port + 1 if app_port < 65535 else app_port - 1}]


def slots(value: Any, app_port: int, problems: List[str]) -> List[Dict[str, Any]]:
    """zerodown_surge_slots checked: two {name, port}, names and ports distinct."""
    if value in (None, "", []):
        return default_slots(app_port)
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(s, dict) for s in value):
        problems.append("zerodown_surge_slots=%s must be %s" % (validate.shown(value), SLOTS_HINT))
        return default_slots(app_port)
    out = []
    for index, slot in enumerate(value):
        unknown = sorted(set(slot) - {"name", "port"})
        if unknown:
            problems.append(
                "zerodown_surge_slots[%d] has unknown key(s) %s: each slot is {name, port}"
                % (index, ", ".join(unknown))
            )
        try:
            name = validate.name(slot.get("name"), "surge_slot", "zerodown_surge_slots[%d].name" % index)
            port = int(validate.number(slot.get("port"), "zerodown_surge_slots[%d].port" % index, validate.PORT))
        except validate.ValidationError as exc:
            problems.append(str(exc))
            continue
        out.append({"name": name, "port": port})
    if len(out) != 2:
        return default_slots(app_port)
    if out[0]["name"] == out[1]["name"] or out[0]["port"] == out[1]["port"]:
        problems.append(
            "zerodown_surge_slots %s:%d and %s:%d: the two slots need different names and different ports (each "
            "host runs both at once)" % (out[0]["name"], out[0]["port"], out[1]["name"], out[1]["port"])
        )
    return out


def _given_servers(given: Any, app_hosts: Sequence[str], names: Sequence[str], problems: List[str]) -> Dict[str, Any]:
    """zerodown_lb.surge_servers checked: {host: {slot: server}} for app hosts and slot names only."""
    if given in (None, {}):
        return {}
    if not isinstance(given, dict) or not all(isinstance(v, dict) for v in given.values()):
        problems.append(
            "zerodown_lb.surge_servers=%s must map app hosts to {slot: server}, e.g. {app1: {%s: web1, %s: web1_%s}}"
            % (validate.shown(given), names[0], names[1], names[1])
        )
        return {}
    strangers = sorted(set(given) - set(app_hosts))
    if strangers:
        problems.append(
            "zerodown_lb.surge_servers names host(s) %s that are not in the app hosts (%s)"
            % (", ".join(strangers), ", ".join(app_hosts) or "none")
        )
    for host, per_slot in sorted(given.items()):
        unknown = sorted(set(per_slot) - set(names))
        if unknown:
            problems.append(
                "zerodown_lb.surge_servers[%s] names slot(s) %s; the slots are %s (zerodown_surge_slots)"
                % (host, ", ".join(map(str, unknown)), " and ".join(names))
            )
    return given


def servers(
    provider: str,
    slot_list: Sequence[Dict[str, Any]],
    home_servers: Dict[str, str],
    host_addresses: Dict[str, str],
    given: Any,
    problems: List[str],
) -> Dict[str, Dict[str, str]]:
    """Each app host's server per slot: {host: {slot: server}}.

    HAProxy: the home (first) slot is the host's server of today (``home_servers``, the plan's ``servers`` map), so
    adopting a fleet only adds a line per host; the other is ``<server>_<slot>``. nginx: a server is its address,
    ``<address>:<slot port>``. ``given`` (zerodown_lb.surge_servers) names any of them explicitly.
    """
    hosts = list(home_servers)
    names = [s["name"] for s in slot_list]
    given = _given_servers(given, hosts, names, problems)
    out: Dict[str, Dict[str, str]] = {}
    for host in hosts:
        per_slot = {}
        for index, slot in enumerate(slot_list):
            explicit = (given.get(host) or {}).get(slot["name"])
            if explicit is not None:
                per_slot[slot["name"]] = str(explicit)
            elif provider == "nginx":
                per_slot[slot["name"]] = "%s:%d" % (host_addresses.get(host) or host, slot["port"])
            else:
                per_slot[slot["name"]] = (
                    home_servers[host] if index == 0 else "%s_%s" % (home_servers[host], slot["name"])
                )
        out[host] = per_slot
    _check_server_names(provider, out, problems)
    return out


def _check_server_names(provider: str, per_host: Dict[str, Dict[str, str]], problems: List[str]) -> None:
    seen: Dict[str, str] = {}
    for host, per_slot in per_host.items():
        for slot, server in per_slot.items():
            where = "host %s slot %s" % (host, slot)
            try:
                if provider == "nginx":
                    validate_address(server)
                else:
                    validate_name(server, "server name of %s" % where)
            except (HAProxyNameError, NginxError) as exc:
                problems.append("%s: %s" % (where, exc))
            if server in seen:
                problems.append(
                    "%s and %s are both server %r: each slot of each host needs its own server"
                    % (seen[server], where, server)
                )
            seen.setdefault(server, where)


def plan(
    enabled: bool,
    variables: Dict[str, Any],
    strategy: str,
    lb: Dict[str, Any],
    host_addresses: Dict[str, str],
    app_port: int,
    given_servers: Any,
    problems: List[str],
) -> Optional[Dict[str, Any]]:
    """The plan's ``surge`` part (and ``lb["surge"]``, what the load-balancer modules read), or None when off."""
    if not enabled:
        return None
    if strategy not in STRATEGIES:
        problems.append(
            "zerodown_surge is for zerodown_strategy %s, not %s (blue-green's old colour already runs beside the new "
            "one, on other hosts): use zerodown_strategy=rolling with zerodown_surge, or turn zerodown_surge off"
            % (" or ".join(STRATEGIES), strategy)
        )
    slot_list = slots(variables.get("zerodown_surge_slots"), app_port, problems)
    port_env = variables.get("zerodown_surge_port_env") or "PORT"
    try:
        validate.name(port_env, "env_name", "zerodown_surge_port_env")
    except validate.ValidationError as exc:
        problems.append(str(exc))
    standby = variables.get("zerodown_standby") or "keep"
    if standby not in STANDBY:
        problems.append(
            "zerodown_standby=%r must be keep (old slots run, drained, until decommission: instant rollback) or stop "
            "(stopped once their batch is handed over)" % (standby,)
        )
    service = variables.get("zerodown_service_name") or variables.get("zerodown_app_name") or ""
    per_host = servers(lb["provider"], slot_list, lb["servers"], host_addresses, given_servers, problems)
    lb["surge"] = {"slots": slot_list, "servers": per_host}
    # the home slot's server is the host's server: the ledger, the reports and every strategy without slots use it
    lb["servers"].update((host, per_slot[slot_list[0]["name"]]) for host, per_slot in per_host.items())
    return {
        "enabled": True,
        "slots": slot_list,
        "port_env": port_env,
        "unit": "%s@{slot}.service" % service,
        "standby": standby,
        "servers": per_host,
    }


def summary(surge: Dict[str, Any], batch_size: int) -> List[str]:
    """The check-mode lines: the slots, ports and unit, then each host's two servers."""
    first, second = surge["slots"]
    return [
        "surge: slots %s:%d and %s:%d (%s), unit %s, %d host(s) at a time, old slots %s"
        % (
            first["name"],
            first["port"],
            second["name"],
            second["port"],
            surge["port_env"],
            surge["unit"].replace("{slot}", "<slot>"),
            batch_size,
            "kept until decommission" if surge["standby"] == "keep" else "stopped after each batch",
        ),
        "surge servers: %s"
        % " | ".join(
            "%s %s" % (host, " ".join("%s=%s" % (slot, server) for slot, server in per_slot.items()))
            for host, per_slot in surge["servers"].items()
        ),
    ]
