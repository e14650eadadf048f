"""The whole deploy of each strategy, 4 app hosts, v1 -> v2 under load: wall time and failed requests.

    .venv/bin/python bench/strategies/run.py [--runs N] [--strategies rolling,blue_green,canary] [--write]

On a test fleet (``$ZERODOWN_BENCH_FLEET``, default ``zdbench``; booted if needed) each run installs v1 with the
fleet's bootstrap (every host serving: blue-green adopts the fleet on its first deploy), then times
``ansible-playbook zerodown.deploy.deploy`` from start to exit while a load generator sends traffic through
HAProxy (4 clients). rolling: one host per batch; blue_green: colours app1:app2 / app3:app4; canary: app1 at
10/50/100 % with a 3 s pause per step, then one host per batch. Figures are medians over the runs; the load
average is printed with them. With ``--write`` the ``## strategies`` section of bench/RESULTS.md is replaced.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from zerodown_testkit import bench
from zerodown_testkit.e2e import deploy_run

FLEET = os.environ.get("ZERODOWN_BENCH_FLEET", "zdbench")
STRATEGY_VARS = {
    "rolling": {"zerodown_strategy": "rolling", "zerodown_batch_size": 1},
    "blue_green": {
        "zerodown_strategy": "blue_green",
        "zerodown_blue_group": "app1:app2",
        "zerodown_green_group": "app3:app4",
    },
    "canary": {
        "zerodown_strategy": "canary",
        "zerodown_batch_size": 1,
        "zerodown_canary_hosts": 1,
        "zerodown_canary_steps": [10, 50, 100],
        "zerodown_canary_pause": 3,
        "zerodown_canary_min_requests": 20,
        "zerodown_canary_max_wait": 20,
    },
}


def fleet(*args: str) -> str:
    return deploy_run.fleet_cli(*args, name=FLEET)


def one_run(strategy: str, inventory: str, base_vars: dict, tmp: Path, facts: dict) -> dict:
    fleet("bootstrap", "--release", "v1")
    deploy_run.remove_release(inventory, "app", "v2")  # every run installs v2 from scratch
    vars_inv = deploy_run.write_vars_inventory(tmp / ("%s.json" % strategy), dict(base_vars, **STRATEGY_VARS[strategy]))
    with deploy_run.under_load(facts["fleet_lb_url"], facts["fleet_haproxy_admin"], "app") as load:
        run = deploy_run.playbook("deploy", [inventory, str(vars_inv)])
    if not run.ok:
        sys.exit("%s deploy failed:\n%s" % (strategy, run.output[-3000:]))
    report = load.report
    return {
        "seconds": run.seconds,
        "requests": report.requests,
        "failed": report.failed,
        "p99": report.latency_ms.get("p99", 0.0),
        "retries": report.haproxy_delta_totals.get("wretr", -1) + report.haproxy_delta_totals.get("wredis", -1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--strategies", default="rolling,blue_green,canary")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    strategies = [s for s in args.strategies.split(",") if s]
    unknown = sorted(set(strategies) - set(STRATEGY_VARS))
    if unknown:
        parser.error("unknown strategies %s; choose from %s" % (", ".join(unknown), ", ".join(STRATEGY_VARS)))
    facts, inventory, base_vars = bench.demo_fleet(FLEET)
    results = {s: [] for s in strategies}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for strategy in strategies:  # interleaved, so that every strategy sees the same machine load
                r = one_run(strategy, inventory, base_vars, Path(tmp), facts)
                results[strategy].append(r)
                print(
                    "run %d %-10s %6.1f s, %d requests, %d failed, p99 %.1f ms, HAProxy retries+redispatches %d"
                    % (i + 1, strategy, r["seconds"], r["requests"], r["failed"], r["p99"], r["retries"]),
                    flush=True,
                )
    lines = [
        "## strategies",
        "",
        "Whole `ansible-playbook zerodown.deploy.deploy` run, v1 -> v2 of the sample app on 4 app hosts of the test",
        "fleet under load (4 clients through HAProxy, `retries 0`); medians of %d runs, interleaved." % args.runs,
        "",
        "Command: `.venv/bin/python bench/strategies/run.py --runs %d --write` (%s at the end)"
        % (args.runs, bench.when_and_load()),
        "",
        "| strategy | wall (median) | runs | failed requests | p99 (median) | retries + redispatches |",
        "|---|---|---|---|---|---|",
    ]
    for strategy, runs in results.items():
        lines.append(
            "| %s | %.1f s | %s | %d of %d | %.1f ms | %d |"
            % (
                strategy,
                statistics.median(r["seconds"] for r in runs),
                ", ".join("%.1f" % r["seconds"] for r in runs),
                sum(r["failed"] for r in runs),
                sum(r["requests"] for r in runs),
                statistics.median(r["p99"] for r in runs),
                sum(r["retries"] for r in runs),
            )
        )
    lines += [
        "",
        "canary includes its three 3 s observation pauses by design; blue_green's first deploy onto a bootstrapped",
        "fleet adopts it (drains one colour first).",
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write:
        bench.write_section("strategies", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
