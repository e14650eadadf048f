"""Rolling deploys over more and more app hosts with the same number of batches: wall time and controller memory.

    .venv/bin/python bench/scale/run.py [--hosts 4,12,24] [--batch 25%] [--clients 8] [--runs 3]
        [--tools rolling,careful] [--forks 50[,12,5]] [--write]

For each host count a fleet of that size is booted (``zdscale<N>``; the previous one is removed first: one fleet at
a time on this machine), then each run does what bench/compare/run.py does for one tool (bootstrap v1, deploy v2
under load, timed from ``ansible-playbook`` start to exit) and samples the controller's peak RSS (ansible-playbook,
its workers and ssh). The time should grow with the number of batches, not with the hosts per batch; the target for
memory is < 500 MB at 24 hosts. Several ``--forks`` values run on the same booted fleet, one after the other (what a
smaller forks setting costs in time and saves in memory). With ``--write`` the ``## scale`` section of bench/RESULTS.md is replaced.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
from pathlib import Path

from zerodown_testkit import bench
from zerodown_testkit.e2e import deploy_run

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_compare", HERE.parent / "compare" / "run.py")
compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--hosts", default="4,12,24")
    parser.add_argument("--batch", default="25%")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default="rolling")
    parser.add_argument("--forks", default="50", help="Ansible forks, or several, comma-separated (default: 50)")
    parser.add_argument("--keep", action="store_true", help="leave the last fleet up")
    parser.add_argument("--section", default="scale", help="RESULTS.md section (default: scale)")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    counts = [int(x) for x in args.hosts.split(",") if x]
    tools = [t for t in args.tools.split(",") if t]
    forks_list = [int(x) for x in args.forks.split(",") if x]
    rows = []
    previous = None
    for count in counts:
        name = "zdscale%d" % count
        if previous:
            deploy_run.fleet_cli("down", name=previous)
        previous = name
        with tempfile.TemporaryDirectory() as tmp:
            ctx = compare.context(name, count, tmp)
            run_args = argparse.Namespace(fleet=name, app_hosts=count, batch=args.batch, clients=args.clients)
            run_args.profile = False  # compare's one_run reads it (bench/compare/run.py --profile)
            for forks in forks_list:
                run_args.forks = forks
                for tool in tools:
                    results = []
                    for i in range(args.runs):
                        r = compare.one_run(tool, run_args, ctx)
                        results.append(r)
                        print(
                            "%d hosts %-8s forks %d run %d: %.1f s, peak RSS %.0f MB, PSS %.0f MB, %d of %d failed "
                            "(load %.1f)"
                            % (
                                count,
                                tool,
                                forks,
                                i + 1,
                                r["seconds"],
                                r["rss_mb"],
                                r["pss_mb"],
                                r["failed"],
                                r["requests"],
                                os.getloadavg()[0],
                            ),
                            flush=True,
                        )
                    rows.append((count, tool, forks, results))
    if previous and not args.keep:
        deploy_run.fleet_cli("down", name=previous)
    lines = [
        "## %s" % args.section,
        "",
        "Deploys v1 -> v2 over more app hosts with the same batch size (%s of the hosts), %d clients through HAProxy,"
        % (args.batch, args.clients),
        "Ansible forks %s; medians of %d runs. Wall = `ansible-playbook` start to exit; peak RSS = the controller's"
        % (" / ".join(str(f) for f in forks_list), args.runs),
        "ansible-playbook process tree (workers and ssh included) summed, sampled every 0.2 s; peak PSS = the same tree",
        "with each page shared between ansible-playbook and its forked workers counted once, split among them.",
        "",
        "Command: `.venv/bin/python bench/scale/run.py --hosts %s --batch %s --clients %d --runs %d --tools %s "
        "--forks %s%s --write` (%s at the end)"
        % (
            args.hosts,
            args.batch,
            args.clients,
            args.runs,
            args.tools,
            args.forks,
            "" if args.section == "scale" else " --section '%s'" % args.section,
            bench.when_and_load(),
        ),
        "",
        "| app hosts | tool | forks | batches | wall (median) | runs | inherent bound (median) "
        "| controller peak RSS (max) | controller peak PSS (max) | failed requests |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for count, tool, forks, results in rows:
        inherent = [r["inherent"] for r in results if "inherent" in r]
        lines.append(
            "| %d | %s | %d | %s | %.1f s | %s | %s | %.0f MB | %.0f MB | %d of %d |"
            % (
                count,
                tool,
                forks,
                len(results[0]["batches"]) if "batches" in results[0] else "-",
                statistics.median(r["seconds"] for r in results),
                ", ".join("%.1f" % r["seconds"] for r in results),
                "%.2f s" % statistics.median(inherent) if inherent else "-",
                max(r["rss_mb"] for r in results),
                max(r["pss_mb"] for r in results),
                sum(r["failed"] for r in results),
                sum(r["requests"] for r in results),
            )
        )
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write:
        bench.write_section(args.section, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
