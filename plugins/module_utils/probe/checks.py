# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: one request and its verdict.

``HttpChecker.check`` sends one ``CheckSpec`` through the transport and judges the answer against its
expectations (status codes, body regex, JSON fields, response headers, latency, served version), so that
``readiness_probe``, ``smoke_test`` and the release module agree on what "healthy" means and on how a failure is
explained. Network failures never raise: they become a failed ``CheckResult`` with a short reason. The regular
expressions a user wrote run on what a server sent in a child interpreter bounded in time (``search_bounded``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import redact
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import Clock
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.options import (
    CheckSpec,
    Expectations,
    HeaderExpectation,
    VersionExpectation,
    scalar_text,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.transport import (
    RawResponse,
    TransportError,
    UrllibTransport,
    snippet_of,
)


class CheckResult:
    """What one request found. ``reason`` says why it failed, quoting the body."""

    __slots__ = ("url", "method", "status", "latency_ms", "ok", "reason", "reasons", "error", "snippet", "version")

    def __init__(self, url: str, method: str) -> None:
        self.url = url
        self.method = method
        self.status: Optional[int] = None
        self.latency_ms: Optional[float] = None
        self.ok = False
        self.reason: Optional[str] = None
        self.reasons: List[str] = []
        self.error: Optional[str] = None
        self.snippet: Optional[str] = None
        self.version: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return {
            "url": self.url,
            "method": self.method,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "ok": self.ok,
            "reason": self.reason,
            "reasons": list(self.reasons),
            "error": self.error,
            "version": self.version,
        }


def json_values_equal(actual: Any, expected: Any) -> bool:
    """Equal as JSON, or equal as text when one side is a string (Ansible templating yields strings)."""
    if isinstance(actual, (dict, list)) or isinstance(expected, (dict, list)):
        return bool(actual == expected)
    if isinstance(actual, str) or isinstance(expected, str):
        return scalar_text(actual) == scalar_text(expected)
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    return bool(actual == expected)


_MISSING = object()
#: A list index in a JSON path: ASCII digits only (str.isdigit would take '١').
_INDEX = re.compile(r"-?[0-9]+")


def _is_index_of(segment: str, node: List[Any]) -> bool:
    # no list holds 10**18 items; a longer run of digits is no index of it (and int() refuses 4,300 digits)
    return bool(_INDEX.fullmatch(segment)) and len(segment) <= 19 and -len(node) <= int(segment) < len(node)


def lookup_json_path(document: Any, path: Tuple[str, ...]) -> Any:
    node = document
    for segment in path:
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and _is_index_of(segment, node):
            node = node[int(segment)]
        else:
            return _MISSING
    return node


# --------------------------------------------------------------------------
# Regular expressions on what a server sent, within the probe's deadline.

#: A regex run is given at least this long, even when the attempt's time is nearly spent: the child
#: interpreter that runs it needs some tens of milliseconds to start.
MIN_REGEX_SECONDS = 1.0

# The child: reads [[pattern, text], ...] as JSON, prints [matched, ...].
_REGEX_CHILD = (
    "import json, re, sys\nsys.stdout.write(json.dumps([re.search(p, t) is not None for p, t in json.load(sys.stdin)]))"
)


def search_bounded(jobs: Sequence[Tuple[re.Pattern[str], str]], seconds: float) -> List[Optional[bool]]:
    """``pattern.search(text)`` for each job, True/False, or None for all when they did not finish in ``seconds``.

    A user's pattern can take exponential time on the wrong text (``(a+)+$`` on thirty a's and a b), and the
    text comes from the server under test, so a regex check could hold the probe far past its deadline.
    Python's ``re`` has no timeout, and a thread cannot be stopped (nor interrupted by a signal: signals reach
    only the main thread, and probes run in threads). So the searches run in a child interpreter (``-I -S``:
    no site packages, no environment) that is killed when ``seconds`` pass: a bound that always holds, at the
    cost of one short-lived process per checked answer. The text is at most MAX_BODY_BYTES (the response body
    is cut there), so what the child is sent is bounded too. Without an interpreter to start (an embedded
    Python), the searches run here.
    """
    if not jobs:
        return []
    if not sys.executable:
        return [pattern.search(text) is not None for pattern, text in jobs]
    payload = json.dumps([[pattern.pattern, text] for pattern, text in jobs])
    try:
        child = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _REGEX_CHILD],
            input=payload.encode("utf-8", "surrogatepass"),
            capture_output=True,
            timeout=seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [None] * len(jobs)
    try:
        found = json.loads(child.stdout)
    except ValueError:
        found = None
    if child.returncode != 0 or not isinstance(found, list) or len(found) != len(jobs):
        # The child died (out of memory on the pattern, say): no answer, as on a timeout; never retried here,
        # where nothing would bound it.
        return [None] * len(jobs)
    return [bool(f) for f in found]


def _regex_timeout(what: str, pattern: re.Pattern[str], text: str, seconds: float) -> str:
    return (
        "%s /%s/ did not finish within %gs on %d characters (catastrophic backtracking?): simplify the pattern, "
        "e.g. no nested repeats such as (a+)+"
        % (what, validate.shown(pattern.pattern, 60)[1:-1], round(seconds, 2), len(text))
    )


# --------------------------------------------------------------------------
# The checker.


class HttpChecker:
    """Sends a CheckSpec and judges the answer; never raises for network trouble."""

    def __init__(self, transport: Any = None, clock: Optional[Clock] = None) -> None:
        self.transport = transport if transport is not None else UrllibTransport()
        self.clock = clock or Clock()

    def check(self, spec: CheckSpec, timeout: Optional[float] = None) -> CheckResult:
        timeout = spec.timeout if timeout is None else timeout
        result = CheckResult(spec.shown_url, "TCP" if spec.is_tcp else spec.method)
        start = self.clock.monotonic()
        try:
            if spec.is_tcp:
                parts = urlsplit(spec.url)
                self.transport.tcp(parts.hostname, parts.port, timeout)
                response = None
            else:
                response = self.transport.http(spec, timeout)
        except TransportError as exc:
            result.latency_ms = round((self.clock.monotonic() - start) * 1000.0, 1)
            result.error = str(exc)
            result.reasons = ["request failed: %s" % exc]
            result.reason = result.reasons[0]
            return result
        result.latency_ms = round((self.clock.monotonic() - start) * 1000.0, 1)
        regex_seconds = max(timeout - (self.clock.monotonic() - start), MIN_REGEX_SECONDS)
        reasons = [redact(r, spec.secrets) for r in self._judge(spec.expect, response, result, regex_seconds)]
        result.reasons = reasons
        result.ok = not reasons
        if reasons:
            reason = "; ".join(reasons)
            if response is not None:
                result.snippet = snippet_of(redact(response.text(), spec.secrets)) if response.body else ""
                reason += ("; response body: %r" % result.snippet) if response.body else "; empty response body"
            result.reason = reason
        return result

    def _judge(
        self,
        expect: Expectations,
        response: Optional[RawResponse],
        result: CheckResult,
        regex_seconds: float = MIN_REGEX_SECONDS,
    ) -> List[str]:
        """Every way the answer (None for a TCP target) falls short of ``expect``, in the order the user reads them:
        status, body, JSON, headers, version, then latency."""
        reasons: List[str] = []
        if response is not None:
            result.status = response.status
            reasons.extend(self._judge_answer(expect, response, result, regex_seconds))
        if (
            expect.max_latency_ms is not None
            and result.latency_ms is not None
            and result.latency_ms > expect.max_latency_ms
        ):
            reasons.append("latency %gms above max_latency_ms %g" % (result.latency_ms, expect.max_latency_ms))
        return reasons

    def _judge_answer(
        self, expect: Expectations, response: RawResponse, result: CheckResult, regex_seconds: float
    ) -> List[str]:
        reasons: List[str] = []
        if response.status not in expect.status_codes:
            reasons.append("status %d not in %s" % (response.status, expect.status_codes))
        text = response.text() if expect.needs_body else ""
        found = _search_answer(expect, response, text, regex_seconds)
        if expect.body_regex is not None:
            reasons.extend(_judge_body_regex(expect.body_regex, text, found, regex_seconds))
        document: Any = _MISSING
        if expect.json_fields or (expect.version and expect.version.json_path):
            try:
                document = validate.json_document(text, "response body")
            except ValueError as exc:
                reasons.append(str(exc) if "nested deeper" in str(exc) else "response body is not JSON")
        if document is not _MISSING:
            reasons.extend(_judge_json_fields(expect.json_fields, document))
        for header in expect.headers:
            reasons.extend(_judge_header(header, response.headers.get(header.name.lower()), found, regex_seconds))
        if expect.version is not None:
            reasons.extend(self._judge_version(expect.version, response, document, result))
        return reasons

    @staticmethod
    def _judge_version(
        version: VersionExpectation, response: RawResponse, document: Any, result: CheckResult
    ) -> List[str]:
        if version.json_path is not None:
            where = "JSON %s" % version.json_path_text
            if document is _MISSING:
                return []  # "not JSON" is already reported
            found = lookup_json_path(document, version.json_path)
            if found is _MISSING:
                return [
                    "version: JSON path %r not found in the response (expected %r)"
                    % (version.json_path_text, version.value)
                ]
            served = scalar_text(found)
        else:
            where = "header %s" % version.header
            header = response.headers.get((version.header or "").lower())
            if header is None:
                return ["version: header %s missing (expected %r)" % (version.header, version.value)]
            served = header.strip()
        result.version = served
        if served != version.value:
            return ["version: %s is %r, expected %r" % (where, served, version.value)]
        return []


#: (pattern, text) -> True/False, or None when the bounded search ran out of time (see search_bounded).
Found = Dict[Tuple["re.Pattern[str]", str], Optional[bool]]


def _search_answer(expect: Expectations, response: RawResponse, text: str, seconds: float) -> Found:
    """Every regex of this answer (the body's, the present headers') in one bounded run."""
    jobs: List[Tuple[re.Pattern[str], str]] = []
    if expect.body_regex is not None:
        jobs.append((expect.body_regex, text))
    jobs += [
        (h.regex, response.headers[h.name.lower()])
        for h in expect.headers
        if h.regex is not None and h.name.lower() in response.headers
    ]
    return dict(zip(jobs, search_bounded(jobs, seconds)))


def _judge_body_regex(pattern: re.Pattern[str], text: str, found: Found, seconds: float) -> List[str]:
    matched = found[(pattern, text)]
    if matched is None:
        return [_regex_timeout("body_regex", pattern, text, seconds)]
    if not matched:
        return ["body does not match /%s/" % pattern.pattern]
    return []


def _judge_json_fields(fields: Dict[str, Tuple[Tuple[str, ...], Any]], document: Any) -> List[str]:
    reasons = []
    for name, (path, expected) in fields.items():
        actual = lookup_json_path(document, path)
        if actual is _MISSING:
            reasons.append("JSON path %r not found in the response" % name)
        elif not json_values_equal(actual, expected):
            reasons.append("JSON %s is %s, expected %s" % (name, json.dumps(actual), json.dumps(expected)))
    return reasons


def _judge_header(header: HeaderExpectation, actual: Optional[str], found: Found, seconds: float) -> List[str]:
    """``actual``: the answer's value of the header, None when it is missing."""
    if actual is None:
        return ["header %s missing (expected %s)" % (header.name, header.describe())]
    if header.regex is not None:
        matched = found[(header.regex, actual)]
        if matched is None:
            return [_regex_timeout("header %s regex" % header.name, header.regex, actual, seconds)]
        ok = matched
    else:
        ok = actual.strip() == header.value
    if not ok:
        return ["header %s is %r, expected %s" % (header.name, actual, header.describe())]
    return []
