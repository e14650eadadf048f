# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the two servers of each app host under surge (docs/surge.md).

``SurgeMap.from_spec(load_balancer)`` reads the plan's ``lb.surge`` ({slots, servers}); ``check(provider, backend,
current, surge)`` refuses, before any change, a load balancer that lacks a host's server for a slot or has it on
another port, naming host, load balancer, backend, server and the line to add; ``handover(surge, live)`` says which
servers take the traffic and which drain when each host's ``live`` slot serves.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import ADMF_CMAINT


class SurgeMap:
    """The slots ({name: port}, in order: the first is the home slot) and each host's server per slot."""

    __slots__ = ("ports", "servers")

    def __init__(self, ports: Dict[str, int], servers: Dict[str, Dict[str, str]]) -> None:
        self.ports = ports
        self.servers = servers

    @classmethod
    def from_spec(cls, spec: Optional[Mapping[str, Any]]) -> SurgeMap:
        """The ``surge`` key of a load-balancer description; LBValidationError when it is missing or malformed."""
        surge = (spec or {}).get("surge")
        if not isinstance(surge, Mapping):
            raise lb.LBValidationError(
                "load_balancer.surge is missing: give the plan's load balancer (zerodown_plan.lb) of a deploy with "
                "zerodown_surge: true, which maps each host to its two servers"
            )
        slots = surge.get("slots")
        servers = surge.get("servers")
        if (
            not isinstance(slots, list)
            or len(slots) != 2
            or not all(isinstance(s, Mapping) and "name" in s and "port" in s for s in slots)
        ):
            raise lb.LBValidationError(
                "load_balancer.surge.slots=%r must be the two slots {name, port} of the plan" % (slots,)
            )
        ports = {str(s["name"]): int(s["port"]) for s in slots}
        if not isinstance(servers, Mapping) or not all(
            isinstance(per, Mapping) and set(per) == set(ports) for per in servers.values()
        ):
            raise lb.LBValidationError(
                "load_balancer.surge.servers must map each host to its server per slot (%s), as the plan does"
                % " and ".join(ports)
            )
        return cls(ports, {str(h): {str(k): str(v) for k, v in per.items()} for h, per in servers.items()})

    def names(self) -> List[str]:
        return sorted({server for per in self.servers.values() for server in per.values()})

    def other(self, slot: str) -> str:
        return next(name for name in self.ports if name != slot)


def _port(address: Any) -> Optional[int]:
    """The port of ``addr:port`` as a load balancer reports it; None where it has none (HAProxy's port 0)."""
    text = str(address or "")
    tail = text.rsplit(":", 1)[-1] if ":" in text else ""
    return int(tail) if tail.isdigit() and int(tail) else None


def _host_address(current: lb.ServerMap, per_slot: Mapping[str, str]) -> str:
    """The host's address as the load balancer knows it (from a server of the host it has), for the line to add."""
    for server in per_slot.values():
        address = (current.get(server) or {}).get("address")
        if address and ":" in address:
            return address.rsplit(":", 1)[0]
    return "<address>"


def config_line(kind: str, server: str, address: str, port: int) -> str:
    """The configuration line that gives a host its server for a slot, out of the pool until a deploy starts it."""
    if kind == "nginx":
        return "server %s:%d down;  # zerodown: maint" % (address, port)
    # no `disabled`: HAProxy's runtime API cannot lift a maintenance the configuration sets; the health checks keep
    # the server out while its slot does not run, and the deploy puts it in maint before starting the slot
    return "server %s %s:%d check" % (server, address, port)


def problems(provider: lb.Provider, backend: str, current: lb.ServerMap, surge: SurgeMap) -> List[str]:
    """Every host whose server for a slot is missing from, or on another port in, this load balancer's backend."""
    out = []
    for host, per_slot in sorted(surge.servers.items()):
        for slot, server in per_slot.items():
            port = surge.ports[slot]
            info = current.get(server)
            if info is None:
                address = server.rsplit(":", 1)[0] if provider.kind == "nginx" else _host_address(current, per_slot)
                where = "the servers file" if provider.kind == "nginx" else "backend %s" % backend
                out.append(
                    "host %s has no server for slot %s on %s load balancer %s: backend %r lacks server %r; add "
                    "`%s` to %s and reload it (or name the server in zerodown_lb.surge_servers)"
                    % (
                        host,
                        slot,
                        provider.kind,
                        provider.id,
                        backend,
                        server,
                        config_line(provider.kind, server, address, port),
                        where,
                    )
                )
                continue
            if int(info.get("admin_state") or 0) & ADMF_CMAINT:
                out.append(
                    "host %s slot %s: server %r of backend %r on %s load balancer %s is `disabled` in the "
                    "configuration, which HAProxy's runtime API cannot lift (a deploy could never put it in the pool); "
                    "remove `disabled` from its line (keep `check`: its health checks keep it out while the slot does "
                    "not run) and reload" % (host, slot, server, backend, provider.kind, provider.id)
                )
            found = _port(info.get("address"))
            if found is not None and found != port:
                out.append(
                    "host %s slot %s: server %r of backend %r on %s load balancer %s points at %s, but slot %s listens "
                    "on port %d; point the server at port %d (or change zerodown_surge_slots)"
                    % (host, slot, server, backend, provider.kind, provider.id, info.get("address"), slot, port, port)
                )
    return out


def check(providers: List[lb.Provider], backend: str, before: Dict[str, lb.ServerMap], surge: SurgeMap) -> None:
    """LBValidationError listing every host's missing or misplaced server on every load balancer; reads nothing."""
    found = [p for provider in providers for p in problems(provider, backend, before[provider.id], surge)]
    if found:
        raise lb.LBValidationError(
            "surge needs two servers per app host on every load balancer, nothing was changed:\n  - %s"
            % "\n  - ".join(found)
        )


def handover(surge: SurgeMap, live: Mapping[str, Any]) -> Tuple[List[str], List[str]]:
    """(servers to put in the pool, servers to drain) when each host of ``live`` serves from the slot it names."""
    if not live:
        raise lb.LBValidationError("live is empty: name each host to hand over and the slot it serves from, {app1: b}")
    unknown = sorted(str(h) for h in live if h not in surge.servers)
    if unknown:
        raise lb.LBValidationError(
            "live names host(s) %s that the plan's surge map does not have (it has: %s)"
            % (", ".join(unknown), ", ".join(sorted(surge.servers)) or "none")
        )
    bad = sorted("%s: %r" % (h, s) for h, s in live.items() if s not in surge.ports)
    if bad:
        raise lb.LBValidationError(
            "live names slot(s) that are not the plan's (%s): %s" % (" or ".join(surge.ports), ", ".join(bad))
        )
    ready = [surge.servers[h][live[h]] for h in sorted(live)]
    drained = [surge.servers[h][surge.other(live[h])] for h in sorted(live)]
    return ready, drained
