# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: per-server counters for nginx, from its access log.

nginx open source keeps no per-server counters, but it can log, for every
request, which upstream server it went to and how that went. With the
access log written in ``LOG_FORMAT``::

    log_format zerodown '"$upstream_addr" "$upstream_status" "$upstream_connect_time" "$upstream_header_time" "$upstream_response_time"';
    access_log /var/log/nginx/zerodown-access.log zerodown;

``NginxLogCounters`` is the canary analysis' counter source for nginx (see
``counters.CounterSource``): a snapshot records the log file's identity and
the byte offset just after its last complete line; a step is the lines
written between two snapshots (``log_tail.LogTail``, which HAProxy's log
shares: its cost follows the step's traffic, a line still being written waits
for the next reading, a rotated or truncated log makes the step unmeasurable,
``CounterResetError``, as for a reloaded HAProxy). A reload of nginx is no
problem: the workers, old and new, keep writing the same file.

What one line counts, on the server of the last address of ``$upstream_addr``
(``a, b`` lists retries, ``a : b`` internal redirects: the last attempt is the
one whose outcome the client got; earlier attempts count nowhere):

* a request, always; ``-`` (nginx answered itself) or an address that is no
  server of the upstream (``app`` when no server was available) counts nowhere
* a response when a header was received (``$upstream_header_time`` not ``-``),
  ``http_5xx`` when its ``$upstream_status`` is 5xx, and its
  ``$upstream_response_time`` (milliseconds resolution) as a latency sample:
  the step's mean is exact, the sum over its samples by their count, and the
  value itself is one of the group's ``latency_values`` (at most
  ``counters.MAX_LATENCY_VALUES`` a group, the first ones of the step)
* no header and status 502/504 (nginx's own answer): a ``connection_errors``
  when it could not connect (``$upstream_connect_time`` ``-``), else
  ``response_errors`` (the server closed, reset or timed out); no header and
  no status (``-``, the client went away first) is a request and no error.

Servers are ``host:port`` as written in the upstream's servers file; a host
name is resolved (``getaddrinfo``) to the addresses nginx logs.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils.lb.counters import (
    SNAPSHOT_FIX,
    CounterSource,
    Counts,
    check_envelope,
    new_snapshot,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.errors import CanaryInputError
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.log_tail import LogFormat, LogTail
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.nginx import NginxError, validate_address

SOURCE = "nginx_access_log"
LOG_FORMAT_NAME = "zerodown"
LOG_FORMAT = (
    '"$upstream_addr" "$upstream_status" "$upstream_connect_time" "$upstream_header_time" "$upstream_response_time"'
)
LOG_FORMAT_DIRECTIVE = "log_format %s '%s';" % (LOG_FORMAT_NAME, LOG_FORMAT)

_LINE_RE = re.compile(r'^"([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)"$')
_LIST_SEP = re.compile(r", | : ")
_ITEM = {
    "$upstream_addr": re.compile(r"^[^\s,\"]+$"),
    "$upstream_status": re.compile(r"^(?:\d{3}|-)$"),
    "$upstream_connect_time": re.compile(r"^(?:\d+(?:\.\d+)?|-)$"),
    "$upstream_header_time": re.compile(r"^(?:\d+(?:\.\d+)?|-)$"),
    "$upstream_response_time": re.compile(r"^(?:\d+(?:\.\d+)?|-)$"),
}
_FIELDS = tuple(_ITEM)
NGINX_ERRORS = (502, 504)  # what nginx answers itself when the server could not be reached or timed out


def required_config(access_log: str = "/var/log/nginx/zerodown-access.log") -> str:
    """The two nginx directives the analysis needs, for messages and docs."""
    return "%s and access_log %s %s;" % (LOG_FORMAT_DIRECTIVE, access_log, LOG_FORMAT_NAME)


def requirement_message() -> str:
    """Why canary_analysis refuses provider nginx without ``nginx.access_log``."""
    return (
        "provider nginx: canary_analysis counts each server's requests, errors and response times from nginx's "
        "access log, as nginx open source keeps no per-server counters; set nginx.access_log to a log that nginx "
        "writes with %s" % required_config()
    )


class AccessLogError(CanaryInputError):
    """The access log cannot be read, or holds a line that is not in LOG_FORMAT."""


@dataclass(frozen=True)
class LogEntry:
    """The last upstream attempt of one logged request."""

    address: str
    status: Optional[int]
    connected: bool
    answered: bool
    response_ms: Optional[float]

    def counts(self) -> Counts:
        if self.answered:
            latency = self.response_ms is not None
            return Counts(
                requests=1,
                responses=1,
                http_5xx=1 if self.status is not None and self.status >= 500 else 0,
                latency_samples=1 if latency else 0,
                latency_weighted_ms=self.response_ms if latency else 0.0,
                latency_values=[self.response_ms] if latency else [],
            )
        if self.status in NGINX_ERRORS:
            if self.connected:
                return Counts(requests=1, response_errors=1)
            return Counts(requests=1, connection_errors=1)
        return Counts(requests=1)


def parse_line(line: str) -> Optional[LogEntry]:
    """One line of LOG_FORMAT; None when the request went to no upstream. ValueError says what does not match."""
    match = _LINE_RE.match(line)
    if not match:
        raise ValueError("expected 5 double-quoted fields separated by single spaces")
    last = []
    for name, value in zip(_FIELDS, match.groups()):
        items = _LIST_SEP.split(value)
        for item in items:
            if not _ITEM[name].match(item):
                raise ValueError("%s is %r" % (name, value))
        last.append(items[-1])
    address, status, connect, header, response = last
    if address == "-":
        return None
    return LogEntry(
        address=address,
        status=None if status == "-" else int(status),
        connected=connect != "-",
        answered=header != "-",
        response_ms=None if response == "-" else float(response) * 1000.0,
    )


def log_addresses(server: str, resolve: Callable[..., Any] = socket.getaddrinfo) -> List[str]:
    """What nginx writes in ``$upstream_addr`` for a ``server`` line's address: ip:port, [ipv6]:port.

    A host name is resolved as nginx resolved it when it read the configuration; the name itself is kept too.
    """
    host, port = server, "80"
    if server.startswith("["):
        host, _sep, rest = server[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else port
    elif server.count(":") == 1:
        host, port = server.split(":")
    try:
        return [_format_address(ipaddress.ip_address(host), port)]
    except ValueError:
        pass
    found = {server}
    try:
        for info in resolve(host, int(port), 0, socket.SOCK_STREAM):
            found.add(_format_address(ipaddress.ip_address(info[4][0].split("%")[0]), port))
    except (OSError, ValueError):
        pass  # nginx could not have started with it either; the name alone matches nothing
    return sorted(found)


def _format_address(ip: Any, port: str) -> str:
    return ("[%s]:%s" if ip.version == 6 else "%s:%s") % (ip.compressed, port)


def validate_server(name: Any) -> str:
    """A server of an nginx upstream as the canary options name it (``host:port`` as in the servers file)."""
    try:
        return validate_address(name)
    except NginxError as exc:
        raise CanaryInputError(str(exc)) from exc


class NginxLogCounters(CounterSource):
    """Per-server Counts of one nginx from its access log.

    ``provider`` is the nginx load balancer (``_lb.NginxProvider``, or anything with ``id`` and
    ``read(upstream)`` -> {server: ...}): the servers of the upstream, and nginx running.
    """

    kind = SOURCE

    def __init__(self, provider: Any, access_log: str, resolve: Callable[..., Any] = socket.getaddrinfo) -> None:
        self.provider = provider
        self.path = access_log
        self._resolve = resolve
        self._addresses: Dict[str, List[str]] = {}
        self.tail = LogTail(access_log, AccessLogFormat())

    # -- snapshots -------------------------------------------------------------------

    def snapshot(
        self, backend: str, servers: Optional[Sequence[str]] = None, now: Callable[[], float] = time.time
    ) -> Dict[str, Any]:
        for name in servers or ():
            validate_server(name)
        known = sorted(self.provider.read(backend))
        missing = [n for n in servers or () if n not in known]
        if missing:
            raise CanaryInputError(
                "nginx upstream %r has no server %s (it has: %s)"
                % (backend, ", ".join(repr(m) for m in missing), ", ".join(known) or "none")
            )
        wanted = list(servers) if servers else known
        addresses = {name: self._addresses_of(name) for name in wanted}
        owner: Dict[str, str] = {}
        for name, logged in addresses.items():
            for address in logged:
                if owner.setdefault(address, name) != name:
                    raise CanaryInputError(
                        "nginx servers %s and %s are both %s in the access log, so their requests cannot be told "
                        "apart: give each server its own address" % (owner[address], name, address)
                    )
        entry: Dict[str, Any] = {"access_log": self.path}
        entry.update(self.tail.position())
        entry["servers"] = {name: {"addresses": addresses[name]} for name in wanted}
        return new_snapshot(SOURCE, backend, {self.provider.id: entry}, now)

    def _addresses_of(self, server: str) -> List[str]:
        if server not in self._addresses:
            self._addresses[server] = log_addresses(server, self._resolve)
        return self._addresses[server]

    def check(self, since: Any, backend: str) -> Dict[str, Any]:
        taken_at = check_envelope(
            since, backend, [self.provider.id], SOURCE, same="give the same nginx servers_file as the snapshot call"
        )
        entry = since["load_balancers"][self.provider.id]
        if not isinstance(entry, Mapping) or not isinstance(entry.get("servers"), Mapping):
            raise CanaryInputError("since.load_balancers[%r] has no servers map: %s" % (self.provider.id, SNAPSHOT_FIX))
        if entry.get("access_log") != self.path:
            raise CanaryInputError(
                "since was taken on the access log %r, this call reads %r: give the same nginx.access_log"
                % (entry.get("access_log"), self.path)
            )
        servers = {}
        for name, info in entry["servers"].items():
            logged = info.get("addresses") if isinstance(info, Mapping) else None
            if not isinstance(logged, list) or not all(isinstance(a, str) for a in logged):
                raise CanaryInputError("since: server %r has no list of addresses: %s" % (name, SNAPSHOT_FIX))
            servers[name] = {"addresses": list(logged)}
        checked: Dict[str, Any] = {"access_log": self.path}
        checked.update(LogTail.check_position(entry, "the access log"))
        checked["servers"] = servers
        return new_snapshot(SOURCE, backend, {self.provider.id: checked}, lambda: taken_at)

    # -- a step ----------------------------------------------------------------------

    def step(self, since: Mapping[str, Any], now: Mapping[str, Any]) -> Dict[str, Counts]:
        before = since["load_balancers"][self.provider.id]
        after = now["load_balancers"][self.provider.id]
        by_address = self.tail.count(before, after)
        out: Dict[str, Counts] = {}
        for name, info in after["servers"].items():
            logged = set(info["addresses"]) | set(before["servers"].get(name, {}).get("addresses", []))
            out[name] = _sum(by_address, logged)
        return out

    def reference(self, before: Mapping[str, Any]) -> Counts:
        """The servers of ``before`` over the log's last ``REFERENCE_BYTES`` before it was taken (whole lines)."""
        entry = before["load_balancers"][self.provider.id]
        by_address = self.tail.reference(entry)
        return _sum(by_address, {a for info in entry["servers"].values() for a in info["addresses"]})


def _sum(by_address: Mapping[str, Counts], addresses: Any) -> Counts:
    total = Counts()
    for address in sorted(addresses):
        total = total.add(by_address.get(address, Counts()))
    return total


class AccessLogFormat(LogFormat):
    """nginx's access log in LOG_FORMAT, for ``log_tail.LogTail``: each line counts on its last upstream address."""

    what = "nginx access log"

    def parse(self, line: str) -> Optional[Tuple[str, Counts]]:
        entry = parse_line(line)
        return None if entry is None else (entry.address, entry.counts())

    def unreadable(self, path: str, reason: str) -> Exception:
        return AccessLogError(
            "cannot read the nginx access log %s: %s; canary_analysis counts each server's requests from it, so "
            "nginx must write it with %s, and this module must run on the nginx host (delegate_to it) with "
            "read access" % (path, reason, required_config(path))
        )

    def misformatted(self, path: str, where: str, line: str, why: str) -> Exception:
        return AccessLogError(
            "nginx access log %s, %s is not in log_format %s (%s): %r; canary_analysis needs this log written with "
            "exactly %s" % (path, where, LOG_FORMAT_NAME, why, line, required_config(path))
        )
