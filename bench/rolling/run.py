"""Rolling deploy of 4 hosts, one at a time: wall time vs the time the hosts themselves need.

    .venv/bin/python bench/rolling/run.py [--runs N] [--write]

On a test fleet (``$ZERODOWN_BENCH_FLEET``, default ``zdbench``; booted
if needed) each run installs v1 with the fleet's bootstrap, then runs
``ansible-playbook zerodown.deploy.deploy`` v1 -> v2 (zerodown_batch_size 1)
with a small results callback (callback/), while a load generator sends traffic through HAProxy.

* rolling time: the four batch phases of the deploy ledger, summed (from the
  ledger call that opens batch 1 to the end of batch 4, measured on the LB
  host's clock);
* inherent time: per host, drain (drain_backend's drain_seconds) + stop +
  start (the release module's own stop/start seconds) + start-up until the
  first ready answer (the readiness the release module runs on the host right
  after ``systemctl start``: its time to ready), summed over the 4 hosts;
* whole playbook: ``ansible-playbook`` start to exit, what the user waits for,
  and the tasks it ran (from the results callback).

Target: rolling / inherent <= 1.5. With ``--write`` the result replaces the
``## rolling`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from zerodown_testkit import bench
from zerodown_testkit.e2e import deploy_run

REPO = Path(__file__).resolve().parents[2]
FLEET = os.environ.get("ZERODOWN_BENCH_FLEET", "zdbench")


def fleet(*args: str) -> str:
    return deploy_run.fleet_cli(*args, name=FLEET)


def task_results(results: list, name_part: str):
    """Every (host, result) of tasks whose name contains ``name_part`` (callback/bench_results.py lines)."""
    for line in results:
        if name_part in line["task"]:
            yield line["host"], line["result"]


def one_run(inventory: str, vars_inv: str, lb_url: str, admin: str) -> dict:
    fleet("bootstrap", "--release", "v1")
    # every run installs v2 from scratch (and a rebuilt v2 artifact never meets an older unpack)
    deploy_run.remove_release(inventory, "app", "v2")
    results_file = Path(vars_inv).parent / "results.jsonl"
    if results_file.exists():
        results_file.unlink()
    env = {
        "ANSIBLE_CALLBACK_PLUGINS": str(Path(__file__).resolve().parent / "callback"),
        "ZERODOWN_BENCH_RESULTS": str(results_file),
    }
    with deploy_run.under_load(lb_url, admin, "app") as load:
        run = deploy_run.playbook("deploy", [inventory, vars_inv], env=env)
    if not run.ok:
        sys.exit("deploy failed:\n" + run.output[-3000:])
    out = [json.loads(line) for line in results_file.read_text().splitlines()]
    # one host per batch: the per-batch bound summed is the hosts' drain + stop + start + ready summed
    batches = bench.inherent_per_batch(out)
    drain, stop, start, ready = (sum(b[k] for b in batches) for k in ("drain", "stop", "start", "ready"))
    ledger_out = next(r for _host, r in task_results(out, "Finish the ledger and release the deploy lock"))
    phases = ledger_out["phase_seconds"]
    rolling = sum(v for k, v in phases.items() if k.startswith("batch "))
    per_task = {}
    for line in out:
        per_task[line["task"]] = max(per_task.get(line["task"], 0.0), line.get("task_seconds", 0.0))
    if os.environ.get("ZERODOWN_BENCH_VERBOSE"):
        for name, seconds in sorted(per_task.items(), key=lambda kv: -kv[1])[:15]:
            print("    %6.2f s  %s" % (seconds, name), flush=True)
    inherent = drain + stop + start + ready
    tasks = len({line["task"] for line in out})
    return {
        "tasks": tasks,
        "rolling": rolling,
        "inherent": inherent,
        "ratio": rolling / inherent,
        "drain": drain,
        "stop": stop,
        "start": start,
        "ready": ready,
        "total": run.seconds,
        "phases": phases,
        "requests": load.report.requests,
        "failed": load.report.failed,
        "haproxy": load.report.haproxy_delta_totals,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    facts, inventory, deploy_vars = bench.demo_fleet(FLEET)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        vars_inv = str(deploy_run.write_vars_inventory(Path(tmp) / "vars.json", deploy_vars))
        for i in range(args.runs):
            r = one_run(inventory, vars_inv, facts["fleet_lb_url"], facts["fleet_haproxy_admin"])
            print(
                "run %d: rolling %.2f s, inherent %.2f s (drain %.2f + stop %.2f + start %.2f + ready %.2f), "
                "ratio %.2f; whole playbook %.1f s (%d distinct tasks); %d requests, %d failed, HAProxy %s"
                % (
                    i + 1,
                    r["rolling"],
                    r["inherent"],
                    r["drain"],
                    r["stop"],
                    r["start"],
                    r["ready"],
                    r["ratio"],
                    r["total"],
                    r["tasks"],
                    r["requests"],
                    r["failed"],
                    r["haproxy"],
                ),
                flush=True,
            )
            runs.append(r)
    ratios = [r["ratio"] for r in runs]
    section = "\n".join(
        [
            "## rolling",
            "",
            "Rolling deploy v1 -> v2 of the sample app on 4 app hosts of the test fleet (systemd-nspawn, HAProxy",
            "`retries 0`), one host per batch, under load (4 clients through HAProxy). rolling = the four batch",
            "phases of the deploy ledger; inherent = drain + stop + start + first ready probe, summed over the hosts",
            "(start-up measured by the readiness the switch call runs on the host; see bench/rolling/run.py);",
            "whole playbook = ansible-playbook start to exit. Target: ratio <= 1.5.",
            "",
            "Command: `.venv/bin/python bench/rolling/run.py --runs %d --write` (%s at the end)"
            % (args.runs, bench.when_and_load()),
            "",
            "| run | rolling | inherent | drain | stop | start | ready | ratio | whole playbook | failed requests |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        + [
            "| %d | %.2f s | %.2f s | %.2f s | %.2f s | %.2f s | %.2f s | %.2f | %.1f s | %d of %d |"
            % (
                i + 1,
                r["rolling"],
                r["inherent"],
                r["drain"],
                r["stop"],
                r["start"],
                r["ready"],
                r["ratio"],
                r["total"],
                r["failed"],
                r["requests"],
            )
            for i, r in enumerate(runs)
        ]
        + [
            "",
            "Median ratio %.2f (target <= 1.5: %s)."
            % (statistics.median(ratios), "met" if statistics.median(ratios) <= 1.5 else "NOT met"),
            "",
        ]
    )
    section += "Median whole playbook %.1f s, median rolling phases %.2f s.\n" % (
        statistics.median(r["total"] for r in runs),
        statistics.median(r["rolling"] for r in runs),
    )
    print(section)
    if args.write:
        bench.write_section("rolling", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
