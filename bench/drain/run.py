"""Bench: how soon does a drain return after the last in-flight request ends? Ours beside community.general.haproxy.

Against a real HAProxy (started here, own config in a temp dir, ephemeral
ports, ``retries 0``) in front of three real HTTP servers, with continuous
traffic from the load generator, each run:

1. puts ``web1`` back to ready and holds ``--in-flight`` slow requests on it
   (``/pin/web1/slow?delay=D``, D drawn from ``--delay`` min..max, max widened
   to min + the poll interval if that is longer, plus ``--ansible-startup``
   seconds through ansible, to outlive its start-up);
2. drains ``web1`` and waits for its sessions to end, with one of:

   * default: the same provider code drain_backend runs (``_lb.HAProxyProvider``
     + ``_lb.wait_drained``), in-process;
   * ``--module``: the drain_backend module, ad hoc through ansible on localhost;
   * ``--community``: ``community.general.haproxy`` with ``state=disabled,
     drain=true, wait=true`` and ``--wait-interval`` (whole seconds; not given:
     the module's default), ad hoc through ansible the same way, with
     community.general from the ``ansible`` wheel (``bench.community_general()``);

3. records ``lag = call returned - end of the last slow request`` (wall clock).
   Through ansible "returned" is when the controller got the task's result
   (bench/rolling/callback's ``at``): when a playbook's next task could start.
   drain_backend also reports when it saw zero sessions (``drained_at``).

Prints the figures (min / median / p95 / max lag), the load generator's
requests and failed requests and HAProxy deltas; ``--write`` puts them in
bench/RESULTS.md under ``## drain_backend``, one ``###`` subsection per mode.

    .venv/bin/python bench/drain/run.py --runs 20
    .venv/bin/python bench/drain/run.py --runs 10 --module
    .venv/bin/python bench/drain/run.py --runs 10 --community --wait-interval 1
    .venv/bin/python bench/drain/run.py --runs 10 --community
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple, Optional

from zerodown_testkit import bench
from zerodown_testkit.support import ansible_run
from zerodown_testkit.support.lbharness import Backends, HAProxyInstance, SlowRequests
from zerodown_testkit.support.loadgen import LoadGenerator, percentile

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import wait_until
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb

HEADING = "drain_backend"
CALLBACK = Path(__file__).resolve().parents[1] / "rolling" / "callback"
COMMUNITY_DEFAULT_WAIT_INTERVAL = 5  # community.general.haproxy's documented default


class Drain(NamedTuple):
    """What one drain call tells: when it returned, sessions at its start, when it saw zero sessions (if it says)."""

    returned_at: float
    sessions_at_start: int
    drained_at: Optional[float] = None
    drain_seconds: Optional[float] = None


def drain_in_process(haproxy, args, tmp: Path) -> Drain:
    provider = lb.HAProxyProvider(haproxy.socket)
    before = lb.read_all([provider], "app")
    changes = lb.plan(provider, before[provider.id], {"web1": {"state": "drain"}})
    lb.apply_all([provider], "app", {provider.id: changes}, before)
    outcome = lb.wait_drained([provider], "app", ["web1"], timeout=60, interval=args.poll)
    return Drain(time.time(), before[provider.id]["web1"]["sessions"], outcome.drained_at, outcome.drain_seconds)


def drain_module(haproxy, args, tmp: Path) -> Drain:
    module_args = {"socket": [haproxy.socket], "backend": "app", "server": "web1", "timeout": 60}
    result, returned_at = run_through_ansible("drain_backend", dict(module_args, poll_interval=args.poll), tmp)
    return Drain(returned_at, result["sessions_at_start"], result["drained_at"], result["drain_seconds"])


def drain_community(haproxy, args, tmp: Path) -> Drain:
    module_args = {
        "state": "disabled",
        "drain": True,
        "wait": True,
        "socket": haproxy.socket,
        "backend": "app",
        "host": "web1",
    }
    if args.wait_interval is not None:
        # wait_retries counts the polls (default 25): 60 outlast the slow requests at any interval
        module_args.update(wait_interval=args.wait_interval, wait_retries=60)
    result, returned_at = run_through_ansible("community.general.haproxy", module_args, tmp)
    # state_before is its `show stat` row of web1 before it acted: scur is the sessions then
    return Drain(returned_at, int(result["state_before"][0]["scur"]))


def run_through_ansible(module: str, module_args: dict, tmp: Path):
    """Run ``module`` ad hoc on localhost; (its result, the time the controller got it)."""
    results_file = tmp / "results.jsonl"
    results_file.unlink(missing_ok=True)
    env = {
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK),
        "ZERODOWN_BENCH_RESULTS": str(results_file),
        "ANSIBLE_COLLECTIONS_PATH": "%s:%s" % (ansible_run.COLLECTIONS, bench.community_general()),
    }
    result = ansible_run.run_module(module, module_args, env=env)
    if result["failed"]:
        raise RuntimeError("%s failed: %s" % (module, result.get("msg")))
    return result, json.loads(results_file.read_text().splitlines()[-1])["at"]


def one_run(haproxy, backends, args, rng, tmp: Path):
    """(the Drain, when the last slow request ended), or None: they ended before the drain began, no measurement."""
    haproxy.runtime.set_server_state("app", "web1", "ready")
    low, high = args.delay
    # A poller's lag depends on where in its interval the last request ends: spread the ends over one interval at
    # least (community.general's 5 s default is wider than --delay), or its start-up time would fix that point.
    high = max(high, low + poll_interval(args))
    through_ansible = args.module or args.community
    delay = rng.uniform(low, high) + (args.ansible_startup if through_ansible else 0.0)
    slow = SlowRequests(haproxy.url + "/pin/web1/slow?delay=%.3f" % delay, args.in_flight)
    wait_until(lambda: backends["web1"].in_flight >= args.in_flight, timeout=10, interval=0.01)
    drain = args.drain(haproxy, args, tmp)
    results = slow.join()
    if any(r.get("status") != 200 for r in results):
        raise RuntimeError("a slow request failed: %r" % results)
    if drain.sessions_at_start < args.in_flight:
        return None
    return drain, max(r["ended"] for r in results)


def poll_interval(args) -> float:
    if args.community:
        return args.wait_interval if args.wait_interval is not None else COMMUNITY_DEFAULT_WAIT_INTERVAL
    return args.poll


def figures_row(what: str, lags: list) -> str:
    ordered = sorted(lags)
    return "| %s | %d | %.3f s | %.3f s | %.3f s | %.3f s |" % (
        what,
        len(lags),
        ordered[0],
        statistics.median(ordered),
        percentile(ordered, 95),
        ordered[-1],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--in-flight", type=int, default=3)
    parser.add_argument("--delay", type=float, nargs=2, default=(0.5, 1.5), metavar=("MIN", "MAX"))
    parser.add_argument("--poll", type=float, default=0.1, help="drain_backend's poll_interval (seconds)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--module", action="store_true", help="run the drain_backend module through ansible")
    mode.add_argument("--community", action="store_true", help="run community.general.haproxy through ansible")
    parser.add_argument(
        "--wait-interval", type=int, default=None, help="community.general.haproxy's wait_interval (default: its own)"
    )
    parser.add_argument(
        "--ansible-startup", type=float, default=6.0, help="seconds added to the slow requests through ansible"
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    if args.runs < 1 or args.runs > 500:
        parser.error("--runs must be 1-500")
    if args.wait_interval is not None and (not args.community or args.wait_interval < 1):
        parser.error("--wait-interval: whole seconds >= 1, with --community")
    if args.community:
        args.drain = drain_community
        interval = (
            "%d s" % args.wait_interval
            if args.wait_interval is not None
            else "not set (its default, %d s)" % COMMUNITY_DEFAULT_WAIT_INTERVAL
        )
        how = "community.general.haproxy via ansible, wait_interval %s" % interval
    elif args.module:
        args.drain, how = drain_module, "drain_backend module via ansible"
    else:
        args.drain, how = drain_in_process, "provider code (_lb) in-process"

    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="zerodown-drain-bench-"))
    backends = Backends(["web1", "web2", "web3"])
    haproxy = None
    lags, drained_lags = [], []
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
                run = one_run(haproxy, backends, args, rng, tmp)
                if run is None:
                    print("run discarded: the slow requests had ended before the drain began")
                    continue
                drain, last_ended = run
                lags.append(drain.returned_at - last_ended)
                line = "run %2d: returned %.3f s after the last request ended" % (len(lags), lags[-1])
                if drain.drained_at is not None:
                    drained_lags.append(drain.drained_at - last_ended)
                    line += " (saw zero sessions at %+.3f s; drain %.3f s)" % (drained_lags[-1], drain.drain_seconds)
                print(line, flush=True)
        report = load.report
    finally:
        if haproxy is not None:
            haproxy.stop()
        backends.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if not lags:
        print("no measurement: every run was discarded (raise --ansible-startup?)")
        return 1

    command = ".venv/bin/python bench/drain/run.py --runs %d --in-flight %d --delay %s %s" % (
        args.runs,
        args.in_flight,
        args.delay[0],
        args.delay[1],
    )
    if args.community:
        command += " --community" + (" --wait-interval %d" % args.wait_interval if args.wait_interval else "")
    else:
        command += " --poll %s%s" % (args.poll, " --module" if args.module else "")
    if (args.module or args.community) and args.ansible_startup != parser.get_default("ansible_startup"):
        command += " --ansible-startup %s" % args.ansible_startup
    lines = [
        "### %s" % how,
        "",
        "Command: `%s --write` (%s at the end)" % (command, bench.when_and_load()),
        "",
        "| lag to | runs | min | median | p95 | max |",
        "|---|---|---|---|---|---|",
        figures_row("call returned", lags),
    ]
    if args.module:
        lines.append(figures_row("module saw zero sessions (`drained_at`)", drained_lags))
    lines += [
        "",
        "Traffic during the bench: %d requests, %d failed; HAProxy deltas %s."
        % (report.requests, report.failed, json.dumps(report.haproxy_delta_totals, sort_keys=True)),
        "",
    ]
    subsection = "\n".join(lines)
    print()
    print(subsection)
    if args.write:
        bench.write_section(HEADING, section_with(how, subsection, intro(args)))
    return 0 if report.ok else 1


def intro(args) -> str:
    return (
        "## %s\n\n"
        "How long after the last in-flight request ends does the drain call return? Real HAProxy %s, %d slow requests"
        " (%g-%g s, widened to one poll interval when that is longer; +%g s through ansible, to outlive its start-up)"
        " in flight on the drained server, continuous traffic through HAProxy during every run. lag = the time the"
        " call returned minus the time the client read the end of the last slow response; through ansible (ad hoc on"
        " localhost, `-c local`) the call returned when the controller got the task's result, when a playbook's next"
        " task could start. Ours: drain_backend's poll_interval %s s. community.general.haproxy: `state=disabled,"
        " drain=true, wait=true`, which waits for the server's sessions to reach zero polling every wait_interval"
        " (whole seconds); community.general %s from the `ansible` wheel on PyPI. Each mode is a separate command;"
        " its load average is beside it."
        % (
            HEADING,
            _haproxy_version(),
            args.in_flight,
            args.delay[0],
            args.delay[1],
            args.ansible_startup,
            args.poll,
            _community_general_version(),
        )
    )


def section_with(how: str, subsection: str, intro_text: str) -> str:
    """The ``## drain_backend`` section with this mode's ``### how`` replaced, the other modes' kept in order."""
    current = bench.RESULTS.read_text() if bench.RESULTS.exists() else ""
    marker = "\n## %s\n" % HEADING
    body = current.split(marker, 1)[1].split("\n## ", 1)[0] if marker in current else ""
    subsections = {}
    for chunk in ("\n" + body).split("\n### ")[1:]:
        subsections[chunk.split("\n", 1)[0].strip()] = "### " + chunk.strip()
    subsections[how] = subsection.strip()
    return intro_text + "\n\n" + "\n\n".join(subsections.values()) + "\n"


def _community_general_version() -> str:
    manifest = bench.community_general() / "ansible_collections" / "community" / "general" / "MANIFEST.json"
    return json.loads(manifest.read_text())["collection_info"]["version"]


def _haproxy_version() -> str:
    out = subprocess.run(["haproxy", "-v"], capture_output=True, text=True, check=False).stdout.split()
    return out[2] if len(out) > 2 else "?"


if __name__ == "__main__":
    sys.exit(main())
