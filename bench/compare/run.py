"""zerodown.deploy beside the playbooks users would write instead, on one fleet, under the same load, same run.

    .venv/bin/python bench/compare/run.py [--app-hosts 4] [--batch 1] [--clients 32] [--runs 3] [--profile]
        [--tools naive,careful,rolling,blue_green,canary] [--mitogen] [--section NAME] [--write]

Each run installs v1 with the fleet's bootstrap, removes v2, then times one v1 -> v2 deploy per tool from
``ansible-playbook`` start to exit (what the user waits for) while ``--clients`` clients send traffic through
HAProxy (``retries 0``, so a request sent to a stopping server fails visibly). Tools, interleaved per run so each
sees the same machine load:

* ``naive`` - bench/compare/naive.yml: ``serial`` restart, the load balancer never told (reference a);
* ``careful`` - bench/compare/careful.yml: the best hand-written ``serial`` playbook with
  community.general.haproxy (drain and wait for sessions) and an ansible.builtin.uri readiness loop (reference b);
* ``rolling``, ``blue_green``, ``canary`` - ``ansible-playbook zerodown.deploy.deploy``;
* ``--mitogen`` adds ``rolling+mitogen`` and ``careful+mitogen`` (the mitogen package's ``mitogen_linear``
  strategy, installed for the bench only).

The inherent bound is what the hosts themselves need, per batch: drain + stop + start + start-up until the first
ready answer (measured on the hosts by the rolling deploy of the same run), summed over the batches. Printed per
tool: wall time (median), ratio to the inherent bound, ratio to ``careful``, failed requests, p99 latency,
HAProxy retries + redispatches, task results (host x task, about one SSH round trip each with pipelining) and the
controller's peak RSS (ansible-playbook and everything under it). community.general comes from the ``ansible``
package on PyPI (no Galaxy here), unpacked once into .bench-out/cache/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from zerodown_testkit import bench
from zerodown_testkit.e2e import deploy_run
from zerodown_testkit.support.ansible_run import COLLECTIONS

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = bench.CACHE
CALLBACK = REPO / "bench" / "rolling" / "callback"
REFERENCES = {"naive": HERE / "naive.yml", "careful": HERE / "careful.yml"}


def mitogen_env() -> dict:
    target = CACHE / "mitogen"
    if not (target / "ansible_mitogen").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(target), "mitogen"], check=True)
    return {
        "ANSIBLE_STRATEGY_PLUGINS": str(target / "ansible_mitogen" / "plugins" / "strategy"),
        "ANSIBLE_STRATEGY": "mitogen_linear",
        "PYTHONPATH": str(target),
    }


def context(fleet: str, app_hosts: int, tmp: str, mitogen: bool = False) -> dict:
    """Boot (or reuse) the fleet with v1 and gather what every run needs: facts, inventory, deploy variables."""
    facts, inventory, deploy_vars = bench.demo_fleet(fleet, app_hosts=app_hosts)
    return {
        "facts": facts,
        "inventory": inventory,
        "vars": deploy_vars,
        "tmp": Path(tmp),
        "community": str(bench.community_general()),
        "mitogen": mitogen_env() if mitogen else {},
    }


def one_run(tool: str, args, ctx: dict) -> dict:
    deploy_run.fleet_cli("bootstrap", "--release", "v1", name=args.fleet)
    deploy_run.remove_release(ctx["inventory"], "app", "v2")
    base, _plus, accel = tool.partition("+")
    results_file = ctx["tmp"] / "results.jsonl"
    starts_file = ctx["tmp"] / "tasks.jsonl"
    for stale in (results_file, starts_file):
        if stale.exists():
            stale.unlink()
    env = {
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK),
        "ZERODOWN_BENCH_RESULTS": str(results_file),
        "ZERODOWN_BENCH_TASKS": str(starts_file),
        "ANSIBLE_COLLECTIONS_PATH": "%s:%s" % (COLLECTIONS, ctx["community"]),
    }
    if accel == "mitogen":
        env.update(ctx["mitogen"])
    if args.forks:
        env["ANSIBLE_FORKS"] = str(args.forks)
    if base in REFERENCES:
        vars_inv = ctx["tmp"] / "reference.json"
        deploy_run.write_vars_inventory(
            vars_inv,
            {"bench_release": "v2", "bench_artifact": ctx["vars"]["zerodown_artifact"], "bench_serial": args.batch},
        )
        target = str(REFERENCES[base])
    else:
        vars_inv = ctx["tmp"] / ("%s.json" % base)
        batch = int(args.batch) if args.batch.isdigit() else args.batch
        deploy_vars = dict(ctx["vars"], **bench.strategy_vars(base, args.app_hosts, batch_size=batch))
        deploy_run.write_vars_inventory(vars_inv, deploy_vars)
        target = "deploy"
    with (
        bench.PeakRSS() as rss,
        deploy_run.under_load(
            ctx["facts"]["fleet_lb_url"], ctx["facts"]["fleet_haproxy_admin"], "app", concurrency=args.clients
        ) as load,
    ):
        run = deploy_run.playbook(target, [ctx["inventory"], str(vars_inv)], env=env)
    if not run.ok and base != "naive":
        # kept and counted (the table's "deploys failed"), not fatal: one refused canary must not lose the runs
        print("%s failed:\n%s" % (tool, run.output[-1500:]), flush=True)
    lines = [json.loads(x) for x in results_file.read_text().splitlines()] if results_file.exists() else []
    report = load.report
    delta = report.haproxy_delta_totals
    out = {
        "seconds": run.seconds,
        "ok": run.ok,
        "requests": report.requests,
        "failed": report.failed,
        "p99": report.latency_ms.get("p99", 0.0),
        "retries": delta.get("wretr", 0) + delta.get("wredis", 0),
        "task_results": sum(len(x["result"].get("results", [None])) for x in lines),
        "rss_mb": rss.peak_bytes / 2**20,
        "pss_mb": rss.peak_pss_bytes / 2**20,
    }
    if args.profile and base == "rolling":
        starts = [json.loads(x) for x in starts_file.read_text().splitlines()]
        print("profile of %s (%.1f s, load %.1f):" % (tool, run.seconds, os.getloadavg()[0]), flush=True)
        for task, seconds in bench.task_profile(starts):
            print("  %6.2f s  %s" % (seconds, task), flush=True)
    if base == "rolling":
        out["batches"] = bench.inherent_per_batch(lines)
        out["inherent"] = sum(b["total"] for b in out["batches"])
    return out


def median(runs, key):
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--fleet", default=os.environ.get("ZERODOWN_BENCH_FLEET", "zdbench"))
    parser.add_argument("--app-hosts", type=int, default=4)
    parser.add_argument("--batch", default="1", help="hosts per batch: a number or a percentage such as 25%%")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--forks", type=int, default=0, help="Ansible forks (default: the testkit's 20)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default="naive,careful,rolling,blue_green,canary")
    parser.add_argument("--mitogen", action="store_true", help="add rolling+mitogen and careful+mitogen")
    parser.add_argument("--section", default=None, help="RESULTS.md section (default: compare, <hosts> hosts)")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--profile", action="store_true", help="print each rolling run's wall time per task")
    args = parser.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    if args.mitogen:
        tools += ["careful+mitogen", "rolling+mitogen"]
    known = set(REFERENCES) | set(bench.STRATEGIES)
    unknown = sorted({t.partition("+")[0] for t in tools} - known)
    if unknown or "rolling" not in tools:
        parser.error("tools: choose from %s, rolling among them (unknown: %s)" % (", ".join(sorted(known)), unknown))
    results = {t: [] for t in tools}
    with tempfile.TemporaryDirectory() as tmp:
        ctx = context(args.fleet, args.app_hosts, tmp, args.mitogen)
        for i in range(args.runs):
            for tool in tools:
                r = one_run(tool, args, ctx)
                results[tool].append(r)
                print(
                    "run %d %-16s %6.1f s, %d of %d failed, p99 %.1f ms, retries+redispatches %d, %d task results, "
                    "peak RSS %.0f MB%s (load %.1f)"
                    % (
                        i + 1,
                        tool,
                        r["seconds"],
                        r["failed"],
                        r["requests"],
                        r["p99"],
                        r["retries"],
                        r["task_results"],
                        r["rss_mb"],
                        (", inherent %.2f s" % r["inherent"]) if "inherent" in r else "",
                        os.getloadavg()[0],
                    ),
                    flush=True,
                )
    inherent = median(results["rolling"], "inherent")
    careful = median(results["careful"], "seconds") if "careful" in results else float("nan")
    batches = len(results["rolling"][0]["batches"])
    name = args.section or "compare, %d app hosts, batch %s%s" % (
        args.app_hosts,
        args.batch,
        ", forks %d" % args.forks if args.forks else "",
    )
    command = (
        ".venv/bin/python bench/compare/run.py --app-hosts %d --batch %s --clients %d --runs %d%s%s%s%s --write"
        % (
            args.app_hosts,
            args.batch,
            args.clients,
            args.runs,
            " --tools " + args.tools if args.tools != parser.get_default("tools") else "",
            " --forks %d" % args.forks if args.forks else "",
            " --mitogen" if args.mitogen else "",
            " --section '%s'" % args.section if args.section else "",
        )
    )
    lines = [
        "## %s" % name,
        "",
        "v1 -> v2 of the sample app on %d app hosts of the test fleet, %d batch(es), %d clients through HAProxy"
        % (args.app_hosts, batches, args.clients),
        "(`retries 0`), Ansible forks %d, every tool in the same run, interleaved; medians of %d runs. Inherent bound"
        % (args.forks or 20, args.runs),
        "= per batch: drain + stop + start + first ready probe on the hosts (measured by rolling in the same runs), summed:",
        "**%.2f s**. naive and careful are bench/compare/naive.yml and careful.yml." % inherent,
        "",
        "Command: `%s` (%s at the end)" % (command, bench.when_and_load()),
        "",
        "| tool | wall (median) | runs | / inherent | / careful | failed requests | p99 (median) "
        "| retries + redispatches | task results | controller peak RSS | deploys failed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for tool, runs in results.items():
        wall = median(runs, "seconds")
        lines.append(
            "| %s | %.1f s | %s | %.2f | %.2f | %d of %d | %.1f ms | %d | %d | %.0f MB | %d |"
            % (
                tool,
                wall,
                ", ".join("%.1f" % r["seconds"] for r in runs),
                wall / inherent,
                wall / careful,
                sum(r["failed"] for r in runs),
                sum(r["requests"] for r in runs),
                median(runs, "p99"),
                sum(r["retries"] for r in runs),
                median(runs, "task_results"),
                median(runs, "rss_mb"),
                sum(1 for r in runs if not r["ok"]),
            )
        )
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write:
        bench.write_section(name, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
