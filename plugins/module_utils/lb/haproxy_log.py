# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: each request's response time from HAProxy's log.

HAProxy's ``show stat`` counts each server's requests and errors exactly, but of
its response times it keeps only an average over a sliding window (``rtime``,
see lb/counters.py). Its log has every request's: with ``option httplog``
(HAProxy's default HTTP log format, configuration manual 8.2.3)::

    haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 ...
                    %ci:%cp        [%tr]                      %ft     %b/%s       %TR/%Tw/%Tc/%Tr/%Ta %ST

``Tr`` (the 4th timer) is the server response time: from the request sent to
the server until its complete response headers, in milliseconds; ``-1`` when
no response came (the server was not reached, or closed or timed out first).

HAProxy cannot write a file: it logs to syslog (``log 127.0.0.1:514 local0``,
or ``log /dev/log local0``) and rsyslog or journald writes the file, each line
after a syslog prefix (``<date> <host> haproxy[<pid>]: ``, or ``<PRI>`` and no
host as HAProxy sends it). With ``haproxy.log`` set, ``HAProxyLogCounters``
takes the requests and errors from ``show stat`` as ``HAProxyCounters`` does
and adds, per server, the ``Tr`` of the requests logged between the two
snapshots as ``Counts.latency_values``. The snapshot also records the log's
identity and offset (lb/log_tail.py, as for nginx's access log): a rotated or
truncated log makes the step unmeasurable (``CounterResetError``).

Which lines count: a line whose message is a request log (``client [date]
frontend backend/server ...``) of the analysed backend. Lines of other
backends, HAProxy's own messages (a server going down, a proxy started) and
lines of other programs are skipped; a request of the analysed backend in
another format (``option tcplog``, or a ``log-format`` that moved the timers)
is an error naming the line and the format needed. ``<NOSRV>`` (no server
took it) counts nowhere. The mean response time stays ``show stat``'s.

The log lags the counters by as long as syslog takes to write a line (usually
milliseconds), so a request that ended just before a snapshot may count in the
next step. With several HAProxy processes (several sockets), the file holds the
lines of those that log to it.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils.lb.counters import (
    SNAPSHOT_FIX,
    Counts,
    HAProxyCounters,
    group,
    snapshot_servers,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.errors import CanaryInputError
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.log_tail import LogFormat, LogTail

HTTPLOG_FORMAT = (
    "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"
)
REQUIRED_CONFIG = (
    "option httplog (its default format, no log-format) in the frontend or defaults, a log line such as "
    "'log 127.0.0.1:514 local0' in the global section and 'log global' where the traffic passes, and syslog "
    "(rsyslog) writing that facility to the file"
)
NO_SERVER = "<NOSRV>"

# The syslog prefix's tag: "haproxy[1234]: " (the first one: a host name holds no brackets).
_TAG = re.compile(r"(?:^|[\s>])[^\s\[\]>]+\[\d+\]: ")
# A request log: client, [accept date], frontend, backend/server, then the timers and the status.
_REQUEST = re.compile(
    r"^(?P<client>\S+) \[(?P<date>\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2}(?:\.\d+)?)\] (?P<frontend>\S+) "
    r"(?P<backend>[^\s/]+)/(?P<server>\S+)(?: (?P<timers>\S+))?(?: (?P<status>\S+))?"
)
_TIMERS = re.compile(r"^(?:\+?-?\d+/){3}(\+?-?\d+)/\+?-?\d+$")  # TR/Tw/Tc/Tr/Ta, Tr captured
_STATUS = re.compile(r"^(?:\d{3}|-1)$")


class HAProxyLogError(CanaryInputError):
    """HAProxy's log cannot be read, or logs a request of the backend in another format than httplog."""


def message_of(line: str) -> str:
    """The syslog message of a line: after its first ``tag[pid]: ``, or the whole line when it has none."""
    tag = _TAG.search(line)
    return line[tag.end() :] if tag else line


def parse_line(line: str, backend: str) -> Optional[Tuple[str, Optional[float]]]:
    """(server, Tr in ms or None when no response came) of a request of ``backend``; None for any other line.

    ValueError says what does not match for a request of ``backend`` that is not in the httplog format.
    """
    match = _REQUEST.match(message_of(line))
    if not match or match.group("backend") != backend:
        return None
    timers = _TIMERS.match(match.group("timers") or "")
    if not timers:
        raise ValueError(
            "the timers after %s/%s are %r, expected 5 of them, TR/Tw/Tc/Tr/Ta"
            % (backend, match.group("server"), match.group("timers") or "")
        )
    status = match.group("status") or ""
    if not _STATUS.match(status):
        raise ValueError("the status after the timers is %r, expected an HTTP status or -1" % status)
    server = match.group("server")
    if server == NO_SERVER:
        return None
    response = int(timers.group(1))
    return server, (float(response) if response >= 0 else None)


class HttpLogFormat(LogFormat):
    """HAProxy's httplog lines of one backend, for ``log_tail.LogTail``: each counts one response time on its server."""

    what = "HAProxy log"

    def __init__(self, backend: str) -> None:
        self.backend = backend

    def parse(self, line: str) -> Optional[Tuple[str, Counts]]:
        found = parse_line(line, self.backend)
        if found is None:
            return None
        server, response_ms = found
        if response_ms is None:
            return server, Counts()
        return server, Counts(latency_samples=1, latency_weighted_ms=response_ms, latency_values=[response_ms])

    def unreadable(self, path: str, reason: str) -> Exception:
        return HAProxyLogError(
            "cannot read the HAProxy log %s: %s; with haproxy.log set, canary_analysis reads each request's "
            "response time from it, so HAProxy must log there with %s, and this module must run on the host that "
            "has the file (delegate_to it) with read access; or leave haproxy.log unset (response time means "
            "only)" % (path, reason, REQUIRED_CONFIG)
        )

    def misformatted(self, path: str, where: str, line: str, why: str) -> Exception:
        return HAProxyLogError(
            "HAProxy log %s, %s is a request of backend %s that is not in HAProxy's httplog format (%s): %r; "
            "canary_analysis reads the server response time Tr from lines in the format '%s', which needs %s"
            % (path, where, self.backend, why, line, HTTPLOG_FORMAT, REQUIRED_CONFIG)
        )


class HAProxyLogCounters(HAProxyCounters):
    """``show stat`` counters, plus each request's response time (Tr) from HAProxy's log ``log``.

    The snapshot has, beside ``load_balancers``, ``log``: {path, dev, ino, offset} (lb/log_tail.py).
    """

    def __init__(self, runtimes: Mapping[str, Any], log: str) -> None:
        super().__init__(runtimes)
        self.path = log
        self._tails: Dict[str, LogTail] = {}

    def _tail(self, backend: str) -> LogTail:
        if backend not in self._tails:
            self._tails[backend] = LogTail(self.path, HttpLogFormat(backend))
        return self._tails[backend]

    def snapshot(
        self, backend: str, servers: Optional[Sequence[str]] = None, now: Callable[[], float] = time.time
    ) -> Dict[str, Any]:
        out = super().snapshot(backend, servers, now=now)
        out["log"] = dict(path=self.path, **self._tail(backend).position())
        return out

    def check(self, since: Any, backend: str) -> Dict[str, Any]:
        out = super().check(since, backend)
        entry = since.get("log")
        if not isinstance(entry, Mapping):
            raise CanaryInputError(
                "since was taken without haproxy.log, this call reads the response times from %s: %s taken with "
                "the same haproxy.log" % (self.path, SNAPSHOT_FIX)
            )
        if entry.get("path") != self.path:
            raise CanaryInputError(
                "since was taken on the HAProxy log %r, this call reads %r: give the same haproxy.log"
                % (entry.get("path"), self.path)
            )
        out["log"] = dict(path=self.path, **LogTail.check_position(entry, "the HAProxy log"))
        return out

    def step(self, since: Mapping[str, Any], now: Mapping[str, Any]) -> Dict[str, Counts]:
        out = super().step(since, now)
        logged = self._tail(now["backend"]).count(since["log"], now["log"])
        return {name: _with_values(counts, logged.get(name)) for name, counts in out.items()}

    def reference(self, before: Mapping[str, Any]) -> Counts:
        """``show stat``'s reference, with the response times of the log's last REFERENCE_BYTES before it."""
        logged = self._tail(before["backend"]).reference(before["log"])
        return _with_values(super().reference(before), group(logged, snapshot_servers(before)))


def _with_values(counts: Counts, logged: Optional[Counts]) -> Counts:
    return replace(counts, latency_values=list(logged.latency_values) if logged is not None else [])
