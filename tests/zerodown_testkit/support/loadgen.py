"""Load generator for zero-downtime proofs: N concurrent HTTP clients, every failure recorded.

    from zerodown_testkit.support.loadgen import LoadGenerator

    with LoadGenerator("http://127.0.0.1:8080/", concurrency=4, duration=30,
                       haproxy="/tmp/x/admin.sock", haproxy_backend="app") as load:
        ...  # drain, switch, deploy while traffic flows
    report = load.report          # stop() ran on exit
    assert report.failed == 0, report.failures
    assert report.haproxy_delta_totals["wretr"] == 0

    LoadGenerator(url, duration=5).run()     # blocking: start, wait, stop

CLI (prints the JSON report; exit code 1 when any request failed)::

    python -m zerodown_testkit.support.loadgen http://127.0.0.1:8080/ -c 4 -d 10 \
        --haproxy /run/haproxy/admin.sock --haproxy-backend app

Every run is bounded: it stops by itself at ``duration`` (or ``max_duration``
when started open-ended) and after ``max_requests``. By default each request
uses a new TCP connection (``Connection: close``), so a drained server really
stops getting new connections; ``keepalive=True`` reuses one connection per
client. A request fails on a connection error, a timeout or a status outside
200-299 (or ``expect_status``); each failure is kept with its time and reason.
The version that answered is read from a response header (``X-App-Version``)
and counted per time bucket, so a report shows when traffic moved.

``haproxy`` (a runtime API address, or a list of them) adds a snapshot of
HAProxy's per-server counters at start and end and their deltas: ``wretr``
(retries), ``wredis`` (redispatches), ``hrsp_5xx``, ``econ``/``eresp``
(connection/response errors). With ``retries 0`` and no ``option redispatch``
a non-zero delta means a server went away under a request. ``haproxy_read``
says whether those counters were really read (every HAProxy answered at start
and end, with servers in the backend); without ``haproxy`` (nginx, a bare app)
the report has no counters and says so (``haproxy_read`` false, empty deltas,
"no HAProxy counters read" in the summary): the proof is then zero failed
requests alone. A HAProxy that does not answer, or shows no server in the
backend, is an entry in ``haproxy_errors`` and makes the report not ``ok``.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import math
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

_REPO = Path(__file__).resolve().parents[3]


def _haproxy_module():
    """The collection's runtime API client, whether or not ansible_collections is importable."""
    try:
        from ansible_collections.zerodown.deploy.plugins.module_utils.lb import haproxy as _haproxy  # noqa: PLC0415

        return _haproxy
    except ImportError:
        path = _REPO / "plugins" / "module_utils" / "lb" / "haproxy.py"
        spec = importlib.util.spec_from_file_location("zerodown_haproxy", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


@dataclass
class Failure:
    at: float  # seconds since the load started
    client: int
    reason: str  # "connect", "timeout", "status", "error"
    detail: str
    status: Optional[int] = None
    elapsed: float = 0.0


@dataclass
class Report:
    url: str
    concurrency: int
    keepalive: bool
    duration: float
    requests: int
    succeeded: int
    failed: int
    failures: List[Dict[str, Any]]
    latency_ms: Dict[str, float]
    status_counts: Dict[str, int]
    versions: Dict[str, int]
    version_timeline: List[Dict[str, Any]]
    bucket_seconds: float
    haproxy_start: Dict[str, Dict[str, Dict[str, int]]] = field(default_factory=dict)
    haproxy_end: Dict[str, Dict[str, Dict[str, int]]] = field(default_factory=dict)
    haproxy_delta: Dict[str, Dict[str, Dict[str, int]]] = field(default_factory=dict)
    haproxy_delta_totals: Dict[str, int] = field(default_factory=dict)
    haproxy_errors: List[str] = field(default_factory=list)
    # True only when every HAProxy given answered at start and end with the backend's servers
    haproxy_read: bool = False

    @property
    def ok(self) -> bool:
        """No failed request, and (when HAProxy was watched) no retry, redispatch or 5xx and no unread counters."""
        totals = self.haproxy_delta_totals
        return (
            self.failed == 0
            and not self.haproxy_errors
            and not any(totals.get(k, 0) for k in ("wretr", "wredis", "hrsp_5xx", "econ", "eresp"))
        )

    def to_dict(self) -> Dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        return out

    def summary(self) -> str:
        lat = self.latency_ms
        text = "%d requests in %.2fs, %d failed; p50 %.1f ms p95 %.1f ms p99 %.1f ms max %.1f ms; versions %s" % (
            self.requests,
            self.duration,
            self.failed,
            lat.get("p50", 0.0),
            lat.get("p95", 0.0),
            lat.get("p99", 0.0),
            lat.get("max", 0.0),
            self.versions,
        )
        if self.haproxy_read:
            text += "; haproxy deltas %s" % (self.haproxy_delta_totals,)
        elif self.haproxy_errors:
            text += "; HAProxy counters NOT read: %s" % "; ".join(self.haproxy_errors)
        else:
            text += "; no HAProxy counters read (none asked for)"
        return text


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class LoadGenerator:
    def __init__(
        self,
        url: str,
        concurrency: int = 4,
        duration: Optional[float] = None,
        max_requests: int = 1_000_000,
        max_duration: float = 600.0,
        timeout: float = 10.0,
        keepalive: bool = False,
        version_header: str = "X-App-Version",
        bucket_seconds: float = 0.5,
        pause: float = 0.0,
        method: str = "GET",
        headers: Optional[Dict[str, str]] = None,
        expect_status: Optional[Iterable[int]] = None,
        cafile: Optional[str] = None,
        verify_tls: bool = True,
        haproxy: Union[None, str, Sequence[str]] = None,
        haproxy_backend: Optional[str] = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("loadgen needs an http:// or https:// URL, got %r" % (url,))
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.url = url
        self._parsed = parsed
        self._path = (parsed.path or "/") + ("?" + parsed.query if parsed.query else "")
        self.concurrency = concurrency
        self.duration = duration
        self.max_requests = max_requests
        self.max_duration = min(max_duration, duration) if duration is not None else max_duration
        self.timeout = timeout
        self.keepalive = keepalive
        self.version_header = version_header
        self.bucket_seconds = bucket_seconds
        self.pause = pause
        self.method = method
        self.headers = dict(headers or {})
        self.expect_status = set(expect_status) if expect_status is not None else set(range(200, 300))
        self._ssl_context: Optional[ssl.SSLContext] = None
        if parsed.scheme == "https":
            ctx = ssl.create_default_context(cafile=cafile)
            if not verify_tls:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ssl_context = ctx
        if isinstance(haproxy, str):
            haproxy = [haproxy]
        self.haproxy_addresses: List[str] = list(haproxy or [])
        self.haproxy_backend = haproxy_backend

        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._started_at = 0.0
        self._last_end = 0.0
        self._count = 0
        self._latencies: List[float] = []
        self._failures: List[Failure] = []
        self._statuses: Dict[str, int] = {}
        self._versions: Dict[str, int] = {}
        self._buckets: Dict[int, Dict[str, int]] = {}
        self._haproxy_start: Dict[str, Dict[str, Dict[str, int]]] = {}
        self._haproxy_errors: List[str] = []
        self.report: Optional[Report] = None

    # -- control ---------------------------------------------------------------------

    def start(self) -> LoadGenerator:
        if self._threads:
            raise RuntimeError("this LoadGenerator was already started")
        self._haproxy_start = self._snapshot()
        self._started_at = time.monotonic()
        for index in range(self.concurrency):
            thread = threading.Thread(target=self._client, args=(index,), name="loadgen-%d" % index, daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def wait(self) -> None:
        """Block until the load ends by itself (duration, max_duration or max_requests)."""
        for thread in self._threads:
            thread.join()

    def stop(self) -> Report:
        """Stop every client (in-flight requests finish or time out), snapshot counters, build the report."""
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        self.report = self._build_report(self._snapshot())
        return self.report

    def run(self) -> Report:
        if self.duration is None and self.max_requests >= 1_000_000:
            raise ValueError("run() needs a duration or a max_requests bound")
        self.start()
        self.wait()
        return self.stop()

    def __enter__(self) -> LoadGenerator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started_at if self._started_at else 0.0

    @property
    def requests_so_far(self) -> int:
        with self._lock:
            return self._count

    def failures_so_far(self) -> List[Failure]:
        with self._lock:
            return list(self._failures)

    def versions_so_far(self) -> Dict[str, int]:
        """Successful answers per release so far (the demo's traffic share)."""
        with self._lock:
            return dict(self._versions)

    # -- clients ---------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        host, port = self._parsed.hostname, self._parsed.port
        if self._ssl_context is not None:
            return http.client.HTTPSConnection(host, port or 443, timeout=self.timeout, context=self._ssl_context)
        return http.client.HTTPConnection(host, port or 80, timeout=self.timeout)

    def _take_slot(self) -> bool:
        with self._lock:
            if self._stop.is_set() or self._count >= self.max_requests:
                return False
            if time.monotonic() - self._started_at >= self.max_duration:
                return False
            self._count += 1
            return True

    def _client(self, index: int) -> None:
        conn: Optional[http.client.HTTPConnection] = None
        headers = dict(self.headers)
        if not self.keepalive:
            headers["Connection"] = "close"
        while self._take_slot():
            began = time.monotonic()
            status: Optional[int] = None
            version = ""
            failure: Optional[Failure] = None
            try:
                if conn is None:
                    conn = self._connection()
                conn.request(self.method, self._path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                version = resp.getheader(self.version_header) or ""
                if resp.will_close or not self.keepalive:
                    conn.close()
                    conn = None
                if status not in self.expect_status:
                    failure = Failure(0.0, index, "status", "HTTP %d" % status, status)
            except socket.timeout as exc:
                failure = Failure(0.0, index, "timeout", "no answer within %ss (%s)" % (self.timeout, exc))
            except (ConnectionError, http.client.RemoteDisconnected) as exc:
                failure = Failure(0.0, index, "connect", "%s: %s" % (type(exc).__name__, exc))
            except (OSError, http.client.HTTPException) as exc:
                failure = Failure(0.0, index, "error", "%s: %s" % (type(exc).__name__, exc))
            ended = time.monotonic()
            if failure is not None and conn is not None:
                conn.close()
                conn = None
            self._record(began, ended, status, version, failure)
            if self.pause:
                self._stop.wait(self.pause)
        if conn is not None:
            conn.close()

    def _record(
        self, began: float, ended: float, status: Optional[int], version: str, failure: Optional[Failure]
    ) -> None:
        offset = began - self._started_at
        bucket = int(offset // self.bucket_seconds)
        with self._lock:
            self._last_end = max(self._last_end, ended)
            if status is not None:
                self._statuses[str(status)] = self._statuses.get(str(status), 0) + 1
            if failure is not None:
                failure.at = round(offset, 4)
                failure.elapsed = round(ended - began, 4)
                self._failures.append(failure)
                return
            self._latencies.append(ended - began)
            label = version or "(none)"
            self._versions[label] = self._versions.get(label, 0) + 1
            counts = self._buckets.setdefault(bucket, {})
            counts[label] = counts.get(label, 0) + 1

    # -- HAProxy counters ------------------------------------------------------------

    def _snapshot(self) -> Dict[str, Dict[str, Dict[str, int]]]:
        if not self.haproxy_addresses:
            return {}
        haproxy = _haproxy_module()
        out = {}
        for address in self.haproxy_addresses:
            try:
                counters = haproxy.HAProxyRuntime(address).counters(self.haproxy_backend)
            except haproxy.HAProxyError as exc:
                self._haproxy_errors.append("%s: %s" % (address, exc))
                continue
            if not counters:
                # nothing to compare: a wrong backend name must not pass as "zero retries"
                self._haproxy_errors.append(
                    "%s: no servers%s in show stat"
                    % (address, " in backend %s" % self.haproxy_backend if self.haproxy_backend else "")
                )
                continue
            out[address] = counters
        return out

    # -- report ----------------------------------------------------------------------

    def _build_report(self, haproxy_end: Dict[str, Dict[str, Dict[str, int]]]) -> Report:
        with self._lock:
            latencies = sorted(self._latencies)
            failures = [asdict(f) for f in sorted(self._failures, key=lambda f: f.at)]
            timeline = [
                {"t": round(b * self.bucket_seconds, 3), "versions": dict(sorted(v.items()))}
                for b, v in sorted(self._buckets.items())
            ]
            delta: Dict[str, Dict[str, Dict[str, int]]] = {}
            totals: Dict[str, int] = {}
            for address, servers in haproxy_end.items():
                before = self._haproxy_start.get(address, {})
                for name, counters in servers.items():
                    prior = before.get(name, {})
                    diff = {k: v - prior.get(k, 0) for k, v in counters.items()}
                    delta.setdefault(address, {})[name] = diff
                    for key, value in diff.items():
                        if key != "stot":
                            totals[key] = totals.get(key, 0) + value
            ms = [x * 1000.0 for x in latencies]
            return Report(
                url=self.url,
                concurrency=self.concurrency,
                keepalive=self.keepalive,
                duration=round(max(self._last_end - self._started_at, 0.0), 4),
                requests=len(latencies) + len(failures),
                succeeded=len(latencies),
                failed=len(failures),
                failures=failures,
                latency_ms={
                    "p50": round(percentile(ms, 50), 3),
                    "p95": round(percentile(ms, 95), 3),
                    "p99": round(percentile(ms, 99), 3),
                    "max": round(ms[-1], 3) if ms else 0.0,
                    "mean": round(sum(ms) / len(ms), 3) if ms else 0.0,
                },
                status_counts=dict(sorted(self._statuses.items())),
                versions=dict(sorted(self._versions.items())),
                version_timeline=timeline,
                bucket_seconds=self.bucket_seconds,
                haproxy_start=self._haproxy_start,
                haproxy_end=haproxy_end,
                haproxy_delta=delta,
                haproxy_delta_totals=totals,
                haproxy_errors=list(self._haproxy_errors),
                haproxy_read=bool(self.haproxy_addresses)
                and not self._haproxy_errors
                and all(a in self._haproxy_start and a in haproxy_end for a in self.haproxy_addresses),
            )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m zerodown_testkit.support.loadgen", description=__doc__.split("\n", maxsplit=1)[0]
    )
    parser.add_argument("url")
    parser.add_argument("-c", "--concurrency", type=int, default=4)
    parser.add_argument("-d", "--duration", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("-n", "--max-requests", type=int, default=1_000_000)
    parser.add_argument("-t", "--timeout", type=float, default=10.0, help="per-request timeout in seconds")
    parser.add_argument("--keepalive", action="store_true", help="reuse one connection per client")
    parser.add_argument("--version-header", default="X-App-Version")
    parser.add_argument("--bucket", type=float, default=0.5, help="version timeline bucket in seconds")
    parser.add_argument("--pause", type=float, default=0.0, help="pause between a client's requests")
    parser.add_argument("--cafile")
    parser.add_argument("--insecure", action="store_true", help="do not verify the server certificate")
    parser.add_argument("--haproxy", action="append", default=[], help="runtime API address (repeatable)")
    parser.add_argument("--haproxy-backend")
    args = parser.parse_args(argv)
    load = LoadGenerator(
        args.url,
        concurrency=args.concurrency,
        duration=args.duration,
        max_requests=args.max_requests,
        timeout=args.timeout,
        keepalive=args.keepalive,
        version_header=args.version_header,
        bucket_seconds=args.bucket,
        pause=args.pause,
        cafile=args.cafile,
        verify_tls=not args.insecure,
        haproxy=args.haproxy,
        haproxy_backend=args.haproxy_backend,
    )
    try:
        load.start()
        load.wait()
    except KeyboardInterrupt:
        pass
    report = load.stop()
    json.dump(report.to_dict(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    sys.stderr.write(report.summary() + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
