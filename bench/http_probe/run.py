"""Benchmark the HTTP probe engine behind readiness_probe / smoke_test.

    .venv/bin/python bench/http_probe/run.py [--runs 20] [--interval 0.1] [--urls 5]

Prints, for real loopback HTTP servers started here:
  * detection lag: time from a server turning healthy to the probe declaring
    it ready (interval and successes=1), for one URL and for --urls at once;
  * deadline overshoot: how far past ``timeout`` a never-ready probe returns;
  * per-attempt latency on loopback (fresh connection per attempt).
Not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time

from zerodown_testkit.support.http_server import Response, serve

from ansible_collections.zerodown.deploy.plugins.module_utils.probe.checks import HttpChecker
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.options import CheckSpec
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.readiness import probe_until_ready


class FlipsHealthy:
    def __init__(self, after: float) -> None:
        self.after = after
        self.start = None
        self.flipped_at = None
        self.lock = threading.Lock()

    def __call__(self, req):
        with self.lock:
            now = time.monotonic()
            if self.start is None:
                self.start = now
            if now - self.start < self.after:
                return Response(503, {}, b"starting")
            if self.flipped_at is None:
                self.flipped_at = self.start + self.after
        return Response(200, {}, b"ok")


def stats(values):
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return {"n": len(values), "min": values[0], "median": statistics.median(values), "p95": p95, "max": values[-1]}


def fmt(name, s, unit="s"):
    return "%-32s n=%-3d min=%.4f%s median=%.4f%s p95=%.4f%s max=%.4f%s" % (
        name,
        s["n"],
        s["min"],
        unit,
        s["median"],
        unit,
        s["p95"],
        unit,
        s["max"],
        unit,
    )


def detection_lag(n_urls: int, interval: float) -> float:
    # A random phase, or the flip would line up with the probe's own rhythm.
    handlers = [FlipsHealthy(after=0.5 + random.uniform(0, interval)) for _run in range(n_urls)]
    servers = [serve(h).start() for h in handlers]
    try:
        specs = [CheckSpec(s.url + "/health", timeout=2) for s in servers]
        ready, _elapsed, _progress = probe_until_ready(HttpChecker(), specs, timeout=10, interval=interval, successes=1)
        done = time.monotonic()
        assert ready
        return done - max(h.flipped_at for h in handlers)
    finally:
        for s in servers:
            s.stop()


def overshoot(timeout: float, interval: float) -> float:
    with serve(lambda req: Response(503, {}, b"never")) as srv:
        started = time.monotonic()
        probe_until_ready(
            HttpChecker(), [CheckSpec(srv.url, timeout=1)], timeout=timeout, interval=interval, successes=1
        )
        return time.monotonic() - started - timeout


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--urls", type=int, default=5)
    args = parser.parse_args()

    one = stats([detection_lag(1, args.interval) for _run in range(args.runs)])
    many = stats([detection_lag(args.urls, args.interval) for _run in range(args.runs)])
    over = stats([overshoot(1.0, args.interval) for _run in range(args.runs)])
    with serve(lambda req: Response(200, {}, b"ok")) as srv:
        checker, spec = HttpChecker(), CheckSpec(srv.url)
        latency = stats([checker.check(spec).latency_ms for _run in range(200)])
    print(fmt("detection lag, 1 URL", one))
    print(fmt("detection lag, %d URLs at once" % args.urls, many))
    print(fmt("deadline overshoot (timeout 1s)", over))
    print(fmt("attempt latency (loopback)", latency, "ms"))
    print(
        json.dumps(
            {"interval": args.interval, "lag_1": one, "lag_many": many, "overshoot": over, "latency_ms": latency}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
