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
``counters.CounterSource``): a snapshot records the log file's identity
(``st_dev``, ``st_ino``) and the byte offset just after its last complete
line; a step is the lines written between two snapshots, so its cost follows
the step's traffic, never the log's size. A line still being written (no
newline yet) is left for the next reading. The log rotated or truncated in
between (another inode, or shorter than the offset) makes the step
unmeasurable: ``CounterResetError``, as for a reloaded HAProxy. A reload of
nginx is no problem: the workers, old and new, keep writing the same file.

What one line counts, on the server of the last address of ``$upstream_addr``
(``a, b`` lists retries, ``a : b`` internal redirects: the last attempt is the
one whose outcome the client got; earlier attempts count nowhere):

* a request, always; ``-`` (nginx answered itself) or an address that is no
  server of the upstream (``app`` when no server was available) counts nowhere
* a response when a header was received (``$upstream_header_time`` not ``-``),
  ``http_5xx`` when its ``$upstream_status`` is 5xx, and its
  ``$upstream_response_time`` (milliseconds resolution) as a latency sample:
  the step's mean is exact, the sum over its samples by their count
* no header and status 502/504 (nginx's own answer): a ``connection_errors``
  when it could not connect (``$upstream_connect_time`` ``-``), else
  ``response_errors`` (the server closed, reset or timed out); no header and
  no status (``-``, the client went away first) is a request and no error.

Servers are ``host:port`` as written in the upstream's servers file; a host
name is resolved (``getaddrinfo``) to the addresses nginx logs.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils.lb.counters import (
    SNAPSHOT_FIX,
    CounterSource,
    Counts,
    check_count,
    check_envelope,
    new_snapshot,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.errors import CanaryInputError, CounterResetError
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.nginx import NginxError, validate_address

SOURCE = "nginx_access_log"
LOG_FORMAT_NAME = "zerodown"
LOG_FORMAT = (
    '"$upstream_addr" "$upstream_status" "$upstream_connect_time" "$upstream_header_time" "$upstream_response_time"'
)
LOG_FORMAT_DIRECTIVE = "log_format %s '%s';" % (LOG_FORMAT_NAME, LOG_FORMAT)
CHUNK = 1 << 20  # bytes read at a time
MAX_LINE = 1 << 16  # a longer line is not in LOG_FORMAT
TAIL = 4096  # bytes read back from the end first, to find the last complete line
Ident = Tuple[int, int]  # (st_dev, st_ino)

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


#: How much of the access log before a snapshot is the bake window's reference ("what the counters showed
#: before the deploy"): its last 8 MiB, some 80,000 requests at about 100 bytes a line.
REFERENCE_BYTES = 8 * 1024 * 1024


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
        # (file, start offset) -> (offset read up to, lines read, Counts per logged address): the polls of one
        # analysis read only what was written since the previous poll
        self._read: Dict[Tuple[Ident, int], Tuple[int, int, Dict[str, Counts]]] = {}

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
        with self._open() as handle:
            stat = os.fstat(handle.fileno())
            offset = self._last_line_end(handle, stat.st_size)
        entry = {
            "access_log": self.path,
            "dev": stat.st_dev,
            "ino": stat.st_ino,
            "offset": offset,
            "servers": {name: {"addresses": addresses[name]} for name in wanted},
        }
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
        checked = {
            "access_log": self.path,
            "dev": check_count(entry.get("dev"), "dev of the access log"),
            "ino": check_count(entry.get("ino"), "ino of the access log"),
            "offset": check_count(entry.get("offset"), "offset in the access log"),
            "servers": servers,
        }
        return new_snapshot(SOURCE, backend, {self.provider.id: checked}, lambda: taken_at)

    # -- a step ----------------------------------------------------------------------

    def step(self, since: Mapping[str, Any], now: Mapping[str, Any]) -> Dict[str, Counts]:
        before = since["load_balancers"][self.provider.id]
        after = now["load_balancers"][self.provider.id]
        ident = (before["dev"], before["ino"])
        if (after["dev"], after["ino"]) != ident:
            raise self._rotated(
                "is another file than at the snapshot (device/inode %d/%d, now %d/%d)"
                % (ident + (after["dev"], after["ino"]))
            )
        if after["offset"] < before["offset"]:
            raise self._rotated(
                "is shorter than at the snapshot (byte %d, now %d)" % (before["offset"], after["offset"])
            )
        by_address = self._count(ident, before["offset"], after["offset"])
        out: Dict[str, Counts] = {}
        for name, info in after["servers"].items():
            logged = set(info["addresses"]) | set(before["servers"].get(name, {}).get("addresses", []))
            total = Counts()
            for address in sorted(logged):
                total = total.add(by_address.get(address, Counts()))
            out[name] = total
        return out

    def reference(self, before: Mapping[str, Any]) -> Counts:
        """The servers of ``before`` over the log's last ``REFERENCE_BYTES`` before it was taken (whole lines)."""
        entry = before["load_balancers"][self.provider.id]
        ident, end = (entry["dev"], entry["ino"]), entry["offset"]
        start = max(0, end - REFERENCE_BYTES)
        if start:
            with self._open() as handle:
                handle.seek(start - 1)
                newline = handle.read(min(end - start + 1, 1 << 20)).find(b"\n")
            start = end if newline < 0 else start + newline  # the first line that starts in the window
        by_address = self._count(ident, start, end)
        addresses = {a for info in entry["servers"].values() for a in info["addresses"]}
        total = Counts()
        for address in sorted(addresses):
            total = total.add(by_address.get(address, Counts()))
        return total

    def _count(self, ident: Ident, start: int, end: int) -> Dict[str, Counts]:
        """Counts per logged address of the lines between two offsets of one file, continuing an earlier read."""
        done, lines, by_address = self._read.get((ident, start), (start, 0, {}))
        if end < done:
            raise self._rotated("is shorter than at the previous reading (byte %d, now %d)" % (done, end))
        if end > done:
            with self._open() as handle:
                stat = os.fstat(handle.fileno())
                if (stat.st_dev, stat.st_ino) != ident:
                    raise self._rotated(
                        "was replaced while the step was read (device/inode now %d/%d)" % (stat.st_dev, stat.st_ino)
                    )
                if stat.st_size < end:
                    raise self._rotated(
                        "was truncated while the step was read (%d bytes, expected %d)" % (stat.st_size, end)
                    )
                if start > 0 and done == start:
                    handle.seek(start - 1)
                    if handle.read(1) != b"\n":  # truncated and written again past the offset (copytruncate)
                        raise self._rotated("no longer has a line ending at byte %d (truncated and rewritten)" % start)
                by_address = dict(by_address)
                for number, offset, line in self._lines(handle, done, end, lines):
                    entry = self._parse(line, offset, number)
                    if entry is not None:
                        by_address[entry.address] = by_address.get(entry.address, Counts()).add(entry.counts())
                    lines = number
            self._read[(ident, start)] = (end, lines, by_address)
        return by_address

    # -- the file --------------------------------------------------------------------

    def _open(self):
        try:
            return open(self.path, "rb")
        except OSError as exc:
            raise AccessLogError(
                "cannot read the nginx access log %s: %s; canary_analysis counts each server's requests from it, so "
                "nginx must write it with %s, and this module must run on the nginx host (delegate_to it) with "
                "read access" % (self.path, exc.strerror or exc, required_config(self.path))
            ) from exc

    def _last_line_end(self, handle: Any, size: int) -> int:
        """The offset just after the last newline (0 when none); the last complete line must be in LOG_FORMAT.

        Reads back from the end, a few KiB unless the lines are long: a snapshot costs nothing like the log's size.
        """
        window = TAIL
        while True:
            start = max(0, size - window)
            handle.seek(start)
            tail = handle.read(size - start)
            cut = tail.rfind(b"\n")
            begin = tail.rfind(b"\n", 0, max(cut, 0)) + 1
            if start == 0 or begin > 0:
                break
            if window > MAX_LINE:
                self._format_error(start, None, "", "no complete line in the last %d bytes" % window)
            window *= 4
        if cut < 0:
            return 0
        self._parse(tail[begin:cut].decode("utf-8", "replace"), start + begin, None)
        return start + cut + 1

    def _lines(self, handle: Any, start: int, end: int, counted: int) -> Iterator[Tuple[int, int, str]]:
        """(line number since the step's start, byte offset, text) of each line in [start, end)."""
        handle.seek(start)
        pending = b""
        offset = start
        number = counted
        left = end - start
        while left > 0:
            data = handle.read(min(CHUNK, left))
            if not data:
                break
            left -= len(data)
            pending += data
            lines = pending.split(b"\n")
            pending = lines.pop()
            for raw in lines:
                number += 1
                yield number, offset, raw.decode("utf-8", "replace")
                offset += len(raw) + 1
            if len(pending) > MAX_LINE:
                self._format_error(offset, number + 1, "", "no line ending in %d bytes" % MAX_LINE)

    def _parse(self, line: str, offset: int, number: Optional[int]) -> Optional[LogEntry]:
        try:
            return parse_line(line)
        except ValueError as exc:
            self._format_error(offset, number, line, str(exc))
        return None

    def _format_error(self, offset: int, number: Optional[int], line: str, why: str) -> None:
        where = (
            "line %d since the snapshot (byte offset %d)" % (number, offset)
            if number is not None
            else "the last line (byte offset %d)" % offset
        )
        shown = line if len(line) <= 200 else line[:200] + "..."
        raise AccessLogError(
            "nginx access log %s, %s is not in log_format %s (%s): %r; canary_analysis needs this log written with "
            "exactly %s" % (self.path, where, LOG_FORMAT_NAME, why, shown, required_config(self.path))
        )

    def _rotated(self, what: str) -> CounterResetError:
        return CounterResetError(
            "nginx access log %s %s: it was rotated or truncated during the step, so the step cannot be measured; "
            "take a new snapshot and measure the next step (rotate this log between deploys)" % (self.path, what)
        )
