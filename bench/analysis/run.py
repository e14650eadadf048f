"""How the release analysis judges releases: false rollbacks of a healthy release, bad releases caught or not.

    flock /tmp/zerodown-heavy.lock .venv/bin/python bench/analysis/run.py [--tree PATH] [--label TEXT]
        [--runs 10 | --runs canary=10,rolling=3,blue_green=3] [--strategies rolling,blue_green,canary]
        [--variants v2-errors-27,v2-errors-5 | --variants canary:v2-errors-27+v2-slow-300,rolling:v2-5xx-at-5s]
        [--clients 32] [--out results.json] [--write]

On the test fleet (``--fleet``, default ``$ZERODOWN_BENCH_FLEET`` or ``zdanalysis``; booted if needed, 4 app hosts)
every deploy starts from v1 everywhere (the fleet's bootstrap, the release under test removed: what bench/compare
does between runs) and runs ``ansible-playbook zerodown.deploy.deploy`` of the collection in ``--tree`` (its
``.collections``; default this checkout, so the same script measures main before and a branch after) while
``--clients`` keep-alive clients send requests through HAProxy as fast as answers come (``saturate``: both cores
busy, the deploy's own processes compete with the traffic). Deploys run one at a time.

Per strategy (rolling, blue_green, canary; batch size 1; blue-green in two colours of 2 hosts; canary one host at
steps [10, 50, 100] with a 10 s pause - shorter than the defaults ([5, 25, 50, 100], 30 s) to keep the bench
affordable), with every analysis threshold at its default (no ``zerodown_canary_max_latency_ratio`` override):

* the healthy release ``v2``, ``--runs`` times: deploys rolled back (false rollbacks) and their causes;
* the failing variants of zerodown_testkit.fleet.releases (v2-errors-27, v2-errors-5, v2-slow-300,
  v2-5xx-at-5s): caught (rolled back) or not, the requests the load generator saw fail during the run, the seconds
  from ``ansible-playbook`` start until the rollback began (detected) and ended (rolled back), and how many app
  hosts ran the bad release (the ledger's hosts that moved; for rolling, the batches it reached).

The outcome, cause, phases and hosts come from the deploy's ledger on lb1. Printed: one line per deploy, then a
table of medians (several runs) with the load average at start and end; ``--out`` writes every run as JSON,
``--write`` the ``## analysis (issue 25), <label>`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STRATEGIES = ("rolling", "blue_green", "canary")
HEALTHY = "v2"
FAILING = ("v2-errors-27", "v2-errors-5", "v2-slow-300", "v2-5xx-at-5s")
# what the before run measured (issue 25): errors and slowness are the canary judge's cases, a release that goes bad
# seconds after it is ready is the rolling and blue-green deploys' case
DEFAULT_VARIANTS = "canary:v2-errors-27+v2-errors-5+v2-slow-300,rolling:v2-5xx-at-5s,blue_green:v2-5xx-at-5s"
CANARY = {"zerodown_canary_hosts": 1, "zerodown_canary_steps": [10, 50, 100], "zerodown_canary_pause": 10}
# ledger host statuses of a host that ran the release under test at some point of the run
RAN_RELEASE = ("switching", "moved", "failed", "unreachable", "rolled_back", "removed")
STATE_ROOT = Path("/var/lib/zerodown-fleet")
LEDGER = "/var/lib/zerodown/demoapp/ledger.json"


# ---- pure helpers (unit-tested: tests/unit/test_bench_analysis.py) ----


def per_strategy(spec: str, strategies, parse, what: str) -> Dict[str, object]:
    """``spec`` for every strategy (``10``; ``a,b``) or per strategy (``canary=10,rolling=3``; ``canary:a+b``):
    {strategy: parse(value)}, a strategy not named gets parse(""). Raises ValueError naming a bad strategy."""
    spec = spec.strip()
    if not any(sep in spec for sep in "=:"):
        return {s: parse(spec) for s in strategies}
    out = {s: parse("") for s in strategies}
    for item in (x for x in spec.split(",") if x.strip()):
        name, sep, value = item.replace("=", ":", 1).partition(":")
        name = name.strip()
        if not sep or name not in STRATEGIES:
            raise ValueError(
                "%s: %r is not <strategy>%s<value> with a strategy of %s"
                % (what, item, "=" if what == "--runs" else ":", ", ".join(STRATEGIES))
            )
        if name in out:
            out[name] = parse(value)
    return out


def runs_count(value: str) -> int:
    if not value.strip():
        return 0
    if not value.strip().isdigit():
        raise ValueError("--runs: %r is not a number of runs" % value)
    return int(value)


def variant_list(value: str) -> List[str]:
    names = [v.strip() for v in value.replace("+", ",").split(",") if v.strip()]
    return names


def median(values) -> Optional[float]:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def from_ledger(ledger: dict, started: float) -> dict:
    """What one deploy did, from its ledger: outcome, cause, seconds from ``started`` (the epoch ansible-playbook
    started) until the rollback began and ended, the phase it stopped in, and the app hosts that ran the release."""
    phases = ledger.get("phases") or []
    names = [p.get("name") for p in phases]
    rollback = next((p for p in phases if p.get("name") == "rollback"), None)
    out = {
        "outcome": ledger.get("outcome"),
        "cause": ledger.get("cause"),
        "ran_release": sorted(h for h, e in (ledger.get("hosts") or {}).items() if e.get("status") in RAN_RELEASE),
        "phases": names,
        "stopped_in": None,
        "detected_s": None,
        "rolled_back_s": None,
    }
    # the analysis steps the ledger recorded (a canary step, a look between batches): name, verdict, figures
    out["looks"] = [
        {
            "name": step.get("name"),
            "verdict": step.get("verdict"),
            "latency_ratio": step.get("latency_ratio"),
            "canary_error_rate": (step.get("canary") or {}).get("error_rate"),
            "canary_requests": (step.get("canary") or {}).get("requests"),
        }
        for step in ledger.get("steps") or []
        if isinstance(step, dict) and "verdict" in step
    ]
    if rollback is not None:
        index = names.index("rollback")
        out["stopped_in"] = names[index - 1] if index else None
        failed = [look["name"] for look in out["looks"] if look["verdict"] not in ("pass", None)]
        if failed and failed[-1]:
            out["stopped_in"] = str(failed[-1])  # the look that failed: 'canary 100%' says more than 'canary'
        out["detected_s"] = round(rollback["started_epoch"] - started, 1)
        end = rollback.get("ended_epoch")
        if end is None and ledger.get("duration") is not None:
            end = ledger["started_epoch"] + ledger["duration"]
        out["rolled_back_s"] = round(end - started, 1) if end is not None else None
    return out


def rolled_back(run: dict) -> bool:
    """The deploy did not leave the release in place: rolled back, a rollback that failed, or refused."""
    return run.get("outcome") != "succeeded"


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    return ("%.1f" % value if isinstance(value, float) and value != int(value) else "%d" % value) + unit


def summarize(runs: List[dict]) -> dict:
    """One table row from the runs of one strategy and release."""
    back = [r for r in runs if rolled_back(r)]
    causes: Dict[str, int] = {}
    for r in back:
        cause = " ".join(str(r.get("cause") or r.get("outcome") or "no ledger").split())
        causes[cause] = causes.get(cause, 0) + 1
    return {
        "runs": len(runs),
        "rolled_back": len(back),
        "causes": causes,
        "failed_requests": median(r["failed"] for r in runs),
        "failed_each": [r["failed"] for r in runs],
        "requests": median(r["requests"] for r in runs),
        "detected_s": median(r.get("detected_s") for r in back),
        "rolled_back_s": median(r.get("rolled_back_s") for r in back),
        "ran_release": median(len(r.get("ran_release") or []) for r in runs),
        "stopped_in": sorted({r["stopped_in"] for r in back if r.get("stopped_in")}),
        "wall_s": median(r["seconds"] for r in runs),
    }


def table(rows: List[tuple], cause_width: int = 160) -> List[str]:
    """Markdown table lines from (strategy, release, summarize(...)) rows."""
    lines = [
        "| strategy | release | runs | rolled back | failed requests (median; each) | detected after (median) "
        "| rolled back after (median) | failed look / last phase | hosts that ran it (median) | deploy wall (median) | causes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for strategy, release, row in rows:
        verdict = "%d of %d" % (row["rolled_back"], row["runs"])
        if release == HEALTHY:
            verdict += " (false)" if row["rolled_back"] else ""
        else:
            verdict += (
                " (caught)"
                if row["rolled_back"] == row["runs"]
                else " (missed %d)" % (row["runs"] - row["rolled_back"])
            )
        causes = "; ".join(
            ("%dx " % n if n > 1 else "") + (c if len(c) <= cause_width else c[: cause_width - 3] + "...")
            for c, n in sorted(row["causes"].items(), key=lambda kv: -kv[1])
        )
        lines.append(
            "| %s | %s | %d | %s | %s; %s | %s | %s | %s | %s | %s | %s |"
            % (
                strategy,
                release,
                row["runs"],
                verdict,
                _fmt(row["failed_requests"]),
                ", ".join(str(x) for x in row["failed_each"]),
                _fmt(row["detected_s"], " s"),
                _fmt(row["rolled_back_s"], " s"),
                ", ".join(row["stopped_in"]) or "-",
                _fmt(row["ran_release"]),
                _fmt(row["wall_s"], " s"),
                (causes or "-").replace("|", "/"),
            )
        )
    return lines


def looks_lines(runs: List[dict]) -> List[str]:
    """One line per run that the analysis looked at: each look's name, verdict and canary/baseline latency ratio."""
    lines = []
    for r in runs:
        if r.get("looks"):
            lines.append(
                "- %s %s #%s: %s"
                % (
                    r["strategy"],
                    r["release"],
                    r.get("run", "?"),
                    ", ".join(
                        "%s %s (latency x%s)"
                        % (
                            look["name"],
                            look["verdict"],
                            "-" if look["latency_ratio"] is None else "%.2f" % look["latency_ratio"],
                        )
                        for look in r["looks"]
                    ),
                )
            )
    return ["", "Each look of the analysis (verdict, canary/baseline mean latency ratio):", ""] + lines if lines else []


# ---- the fleet ----


def deploy_vars(facts: dict, state: Path, release: str, strategy: str, app_hosts: int) -> dict:
    from zerodown_testkit import bench

    out = dict(bench.release_deploy_vars(facts, state, release), zerodown_batch_size=1)
    if strategy == "canary":
        out.update(zerodown_strategy="canary", **CANARY)
    else:
        out.update(bench.strategy_vars(strategy, app_hosts, batch_size=1))
    return out


def read_ledger(state: Path) -> dict:
    ssh = ["ssh", "-F", str(state / "ssh_config"), "lb1", "cat", LEDGER]
    text = subprocess.run(ssh, capture_output=True, text=True, check=False).stdout
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError:
        return {}


def one_deploy(strategy: str, release: str, args, ctx: dict) -> dict:
    from zerodown_testkit.e2e import deploy_run

    reset = time.monotonic()
    deploy_run.fleet_cli("bootstrap", "--release", "v1", name=args.fleet)
    deploy_run.remove_release(ctx["inventory"], "app", release)
    reset = time.monotonic() - reset
    vars_inv = ctx["tmp"] / ("%s-%s.json" % (strategy, release))
    deploy_run.write_vars_inventory(
        vars_inv, deploy_vars(ctx["facts"], ctx["state"], release, strategy, args.app_hosts)
    )
    env = {"ANSIBLE_COLLECTIONS_PATH": str(ctx["collections"])}
    facts = ctx["facts"]
    started = time.time()
    with deploy_run.under_load(
        facts["fleet_lb_url"], facts["fleet_haproxy_admin"], "app", concurrency=args.clients, saturate=True
    ) as load:
        run = deploy_run.playbook("deploy", [ctx["inventory"], str(vars_inv)], env=env)
    report = load.report
    ledger = read_ledger(ctx["state"])
    fresh = ledger.get("started_epoch", 0) >= started - 1 and ledger.get("release") == release
    out = {
        "strategy": strategy,
        "release": release,
        "rc": run.rc,
        "seconds": round(run.seconds, 1),
        "reset_seconds": round(reset, 1),
        "requests": report.requests,
        "failed": report.failed,
        "status_counts": report.status_counts,
        "p99_ms": report.latency_ms.get("p99", 0.0),
        "load": round(os.getloadavg()[0], 1),
    }
    if fresh:
        out.update(from_ledger(ledger, started))
    else:  # refused before the ledger started (preflight): nothing changed
        out.update(outcome="no ledger (rc %d)" % run.rc, cause=run.output[-300:], ran_release=[], stopped_in=None)
    if run.rc != 0 and out.get("outcome") == "succeeded":
        out["outcome"] = "failed (rc %d)" % run.rc
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--tree", type=Path, default=REPO, help="the collection checkout under test (its .collections)")
    parser.add_argument("--label", default="this checkout", help='what --tree is, e.g. "main 07675a7" or "after"')
    parser.add_argument("--runs", default="3", help="healthy (v2) runs: N, or per strategy canary=10,rolling=3")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument(
        "--variants",
        default=DEFAULT_VARIANTS,
        help="failing releases, one run each: a,b (every strategy) or canary:a+b,rolling:c; '' for none",
    )
    parser.add_argument("--variant-runs", type=int, default=1, help="runs of each failing release")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--app-hosts", type=int, default=4)
    parser.add_argument("--fleet", default=os.environ.get("ZERODOWN_BENCH_FLEET", "zdanalysis"))
    parser.add_argument("--out", type=Path, default=None, help="write every run and the table as JSON")
    parser.add_argument("--write", action="store_true", help="update the section of bench/RESULTS.md")
    parser.add_argument("--down", action="store_true", help="take the fleet down at the end")
    parser.add_argument("--note", default="", help="a sentence added to the section (what was trimmed)")
    args = parser.parse_args(argv)
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = sorted(set(strategies) - set(STRATEGIES))
    if unknown or not strategies:
        parser.error("--strategies: %s is not among %s" % (", ".join(unknown) or "(none)", ", ".join(STRATEGIES)))
    try:
        runs = per_strategy(args.runs, strategies, runs_count, "--runs")
        variants = per_strategy(args.variants, strategies, variant_list, "--variants")
    except ValueError as exc:
        parser.error(str(exc))
    from zerodown_testkit.fleet import releases

    bad = sorted({v for names in variants.values() for v in names} - set(releases.VARIANTS))
    if bad:
        parser.error(
            "--variants: %s not among the fleet's releases (%s)" % (", ".join(bad), ", ".join(releases.VARIANTS))
        )
    collections = args.tree.resolve() / ".collections"
    if not (collections / "ansible_collections" / "zerodown" / "deploy" / "playbooks" / "deploy.yml").exists():
        parser.error(
            "--tree %s has no .collections/ansible_collections/zerodown/deploy: run `make link` there" % args.tree
        )

    from zerodown_testkit import bench
    from zerodown_testkit.e2e import deploy_run

    commit = subprocess.run(
        ["git", "-C", str(args.tree), "log", "-1", "--format=%h"], capture_output=True, text=True, check=False
    ).stdout.strip()
    plan = [(s, HEALTHY, i + 1) for s in strategies for i in range(runs[s])]
    plan += [(s, v, i + 1) for s in strategies for v in variants[s] for i in range(args.variant_runs)]
    load_start = os.getloadavg()
    t0 = time.monotonic()
    print(
        "%d deploys of the collection in %s (%s, commit %s), load average %.1f at start"
        % (len(plan), args.tree, args.label, commit or "?", load_start[0]),
        flush=True,
    )
    results: List[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        facts, inventory, _vars = bench.demo_fleet(args.fleet, app_hosts=args.app_hosts)
        ctx = {
            "facts": facts,
            "inventory": inventory,
            "state": STATE_ROOT / args.fleet,
            "tmp": Path(tmp),
            "collections": collections,
        }
        print("fleet ready after %.0f s" % (time.monotonic() - t0), flush=True)
        for strategy, release, n in plan:
            r = one_deploy(strategy, release, args, ctx)
            r["run"] = n
            results.append(r)
            print(
                "%-10s %-13s #%-2d %-22s %5.1f s, %d of %d requests failed, hosts ran it: %s, detected %s s, "
                "rolled back %s s, stopped in %s (load %.1f)%s"
                % (
                    strategy,
                    release,
                    n,
                    r["outcome"],
                    r["seconds"],
                    r["failed"],
                    r["requests"],
                    len(r["ran_release"]),
                    r.get("detected_s"),
                    r.get("rolled_back_s"),
                    r.get("stopped_in"),
                    r["load"],
                    ("\n    cause: %s" % " ".join(str(r["cause"]).split())) if r.get("cause") else "",
                ),
                flush=True,
            )
        if args.down:
            deploy_run.fleet_cli("down", name=args.fleet)
    load_end = os.getloadavg()
    minutes = (time.monotonic() - t0) / 60
    rows = []
    for strategy in strategies:
        for release in [HEALTHY] + variants[strategy]:
            mine = [r for r in results if r["strategy"] == strategy and r["release"] == release]
            if mine:
                rows.append((strategy, release, summarize(mine)))
    command = "flock /tmp/zerodown-heavy.lock .venv/bin/python bench/analysis/run.py " + " ".join(
        "'%s'" % a if (" " in a or not a) else a for a in (argv if argv is not None else sys.argv[1:])
    )
    heading = "analysis (issue 25), %s" % args.label
    text = "\n".join(
        [
            "## %s" % heading,
            "",
            "How the release analysis judges releases (bench/analysis/run.py): %s (commit %s), %d app hosts, batch size 1, "
            "%d keep-alive clients through HAProxy sending as fast as answers come (both cores saturated), every "
            "deploy from v1 everywhere, one at a time. Canary: 1 host, steps [10, 50, 100], pause 10 s (shorter "
            "than the defaults, to keep the bench affordable); every analysis threshold at its default. Rolled "
            "back = the ledger's outcome is not succeeded; detected / rolled back after = from ansible-playbook "
            "start to the ledger's rollback phase start / end; hosts that ran it = the ledger's hosts that moved."
            % (args.label, commit or "?", args.app_hosts, args.clients)
            + (" " + args.note if args.note else ""),
            "",
            "Command: `%s` (%s; load average %.1f at start, %.1f at the end; %.0f min)"
            % (command, bench.when_and_load().split(",")[0], load_start[0], load_end[0], minutes),
            "",
        ]
        + table(rows)
        + looks_lines(results)
    )
    print("\n" + text, flush=True)
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "label": args.label,
                    "tree": str(args.tree),
                    "commit": commit,
                    "command": command,
                    "load_start": load_start[0],
                    "load_end": load_end[0],
                    "minutes": round(minutes, 1),
                    "canary": CANARY,
                    "clients": args.clients,
                    "runs": results,
                    "table": [dict(row, strategy=s, release=r) for s, r, row in rows],
                },
                indent=1,
            )
            + "\n"
        )
    if args.write:
        bench.write_section(heading, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
