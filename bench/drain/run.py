"""Bench: how soon does a drain return after the last in-flight request ends?

Against a real HAProxy (started here, own config in a temp dir, ephemeral
ports, ``retries 0``) in front of three real HTTP servers, with continuous
traffic from the load generator, each run:

1. puts ``web1`` back to ready and holds ``--in-flight`` slow requests on it
   (``/pin/web1/slow?delay=D``, D drawn from ``--delay`` min..max);
2. drains ``web1`` (default: the same provider code drain_backend runs,
   ``_lb.HAProxyProvider`` + ``_lb.wait_drained``; ``--module``: the real
   module through ansible, slower, fewer runs);
3. records ``lag = drained_at - end of the last slow request`` (wall clock).

Prints the figures (min / median / p95 / max lag), the load generator's
failed requests and HAProxy retry/redispatch deltas; ``--write`` puts them in
bench/RESULTS.md under ``## drain_backend``.

    .venv/bin/python bench/drain/run.py --runs 20
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zerodown_testkit.support import ansible_run
from zerodown_testkit.support.lbharness import Backends, HAProxyInstance, SlowRequests
from zerodown_testkit.support.loadgen import LoadGenerator, percentile

from ansible_collections.zerodown.deploy.plugins.module_utils import _lb as lb
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import wait_until

REPO = Path(__file__).resolve().parents[2]


def run_module(args: dict) -> dict:
    return ansible_run.run_module("drain_backend", args)


def one_run(haproxy, backends, args, rng):
    haproxy.runtime.set_server_state("app", "web1", "ready")
    low, high = args.delay
    # The module needs time to start under Ansible; the slow requests must outlive that.
    delay = rng.uniform(low, high) + (6.0 if args.module else 0.0)
    slow = SlowRequests(haproxy.url + "/pin/web1/slow?delay=%.3f" % delay, args.in_flight)
    wait_until(lambda: backends["web1"].in_flight >= args.in_flight, timeout=10, interval=0.01)
    if args.module:
        result = run_module(
            {"socket": [haproxy.socket], "backend": "app", "server": "web1", "timeout": 60, "poll_interval": args.poll}
        )
        if result.get("failed"):
            raise RuntimeError(result.get("msg"))
        drained_at, drain_seconds = result["drained_at"], result["drain_seconds"]
        at_start = result["sessions_at_start"]
    else:
        provider = lb.HAProxyProvider(haproxy.socket)
        before = lb.read_all([provider], "app")
        changes = lb.plan(provider, before[provider.id], {"web1": {"state": "drain"}})
        lb.apply_all([provider], "app", {provider.id: changes}, before)
        outcome = lb.wait_drained([provider], "app", ["web1"], timeout=60, interval=args.poll)
        drained_at, drain_seconds = outcome.drained_at, outcome.drain_seconds
        at_start = before[provider.id]["web1"]["sessions"]
    results = slow.join()
    if any(r.get("status") != 200 for r in results):
        raise RuntimeError("a slow request failed: %r" % results)
    if at_start < args.in_flight:
        return None, drain_seconds  # the slow requests ended before the drain began: not a measurement
    return drained_at - max(r["ended"] for r in results), drain_seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--in-flight", type=int, default=3)
    parser.add_argument("--delay", type=float, nargs=2, default=(0.5, 1.5), metavar=("MIN", "MAX"))
    parser.add_argument("--poll", type=float, default=0.1, help="poll_interval (seconds)")
    parser.add_argument("--module", action="store_true", help="run the drain_backend module through ansible")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    if args.runs < 1 or args.runs > 500:
        parser.error("--runs must be 1-500")

    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="zerodown-drain-bench-"))
    backends = Backends(["web1", "web2", "web3"])
    haproxy = None
    lags, drains = [], []
    try:
        haproxy = HAProxyInstance(tmp / "lb", backends)
        load = LoadGenerator(
            haproxy.url + "/",
            concurrency=2,
            max_duration=3600,
            timeout=30,
            pause=0.01,
            haproxy=haproxy.socket,
            haproxy_backend="app",
        )
        with load:
            attempts = 0
            while len(lags) < args.runs and attempts < args.runs * 2:
                attempts += 1
                lag, drain_seconds = one_run(haproxy, backends, args, rng)
                if lag is None:
                    print("run discarded: the slow requests had ended before the drain began")
                    continue
                index = len(lags)
                lags.append(lag)
                drains.append(drain_seconds)
                print(
                    "run %2d: returned %.3fs after the last request ended (drain %.3fs)"
                    % (index + 1, lag, drain_seconds)
                )
        report = load.report
    finally:
        if haproxy is not None:
            haproxy.stop()
        backends.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    ordered = sorted(lags)
    figures = {
        "runs": len(lags),
        "lag_min": min(lags),
        "lag_median": statistics.median(lags),
        "lag_p95": percentile(ordered, 95),
        "lag_max": max(lags),
        "failed_requests": report.failed,
        "requests": report.requests,
        "haproxy": report.haproxy_delta_totals,
    }
    how = "drain_backend module via ansible" if args.module else "provider code (_lb) in-process"
    command = ".venv/bin/python bench/drain/run.py --runs %d --in-flight %d --delay %s %s --poll %s%s" % (
        args.runs,
        args.in_flight,
        args.delay[0],
        args.delay[1],
        args.poll,
        " --module" if args.module else "",
    )
    subsection = "\n".join(
        [
            "### %s" % how,
            "",
            "Command: `%s` (%s, %d cores)" % (command, time.strftime("%Y-%m-%d", time.gmtime()), os.cpu_count() or 0),
            "",
            "| runs | min | median | p95 | max |",
            "|---|---|---|---|---|",
            "| %d | %.3f s | %.3f s | %.3f s | %.3f s |"
            % (len(lags), figures["lag_min"], figures["lag_median"], figures["lag_p95"], figures["lag_max"]),
            "",
            "Traffic during the bench: %d requests, %d failed; HAProxy deltas %s."
            % (report.requests, report.failed, json.dumps(report.haproxy_delta_totals, sort_keys=True)),
            "",
        ]
    )
    intro = (
        "How long after the last in-flight request ends does the drain return? Real HAProxy %s, %d slow requests"
        " (%s-%s s; +6 s through ansible, to outlive its start-up) in flight on the drained server,"
        " poll_interval %ss, continuous traffic through HAProxy during"
        " every run. lag = time the drain saw zero sessions minus the time the client read the end of the last slow"
        " response (a lag slightly below 0 means HAProxy closed the session before the client finished reading)."
        % (_haproxy_version(), args.in_flight, args.delay[0], args.delay[1], args.poll)
    )
    section = subsection
    print()
    print(section)
    if args.write:
        _write_section(REPO / "bench" / "RESULTS.md", intro, how, subsection)
    ok = (
        report.failed == 0
        and not report.haproxy_delta_totals.get("wretr")
        and not report.haproxy_delta_totals.get("wredis")
    )
    return 0 if ok else 1


def _haproxy_version() -> str:
    out = subprocess.run(["haproxy", "-v"], capture_output=True, text=True, check=False).stdout.split()
    return out[2] if len(out) > 2 else "?"


def _write_section(path: Path, intro: str, how: str, subsection: str) -> None:
    """Replace this mode's ### subsection inside ## drain_backend, leaving other benches' sections alone."""
    text = (
        path.read_text()
        if path.exists()
        else "# Benchmark results\n\nEach section is written by its bench; rerun its command to refresh it.\n"
    )
    lines = text.rstrip("\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip() == "## drain_backend"), None)
    if start is None:
        lines += ["", "## drain_backend"]
        start = len(lines) - 1
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    body = lines[start + 1 : end]
    subs = {}
    order = []
    current = None
    for line in body:
        if line.startswith("### "):
            current = line[4:].strip()
            order.append(current)
            subs[current] = []
        if current is not None:
            subs[current].append(line)
    if how not in subs:
        order.append(how)
    subs[how] = subsection.rstrip("\n").split("\n") + [""]
    new_body = ["", intro, ""]
    for name in order:
        sub = subs[name]
        while sub and not sub[-1].strip():
            sub = sub[:-1]
        new_body += sub + [""]
    lines = lines[: start + 1] + new_body + lines[end:]
    path.write_text("\n".join(lines).rstrip("\n") + "\n")


if __name__ == "__main__":
    sys.exit(main())
