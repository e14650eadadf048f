"""Benchmark migration_check's engine on the corpus and compare it with Squawk on the PostgreSQL part.

Usage (from the repository root):
    .venv/bin/python bench/migration_check/run.py [--squawk .venv/bin/squawk] [--rounds 5] [--realworld tuned]

``--realworld`` picks the real-world directories of the timing runs: ``tuned`` (the ones the engine was tuned on,
the default, as before issue 26), ``issue-26`` (issue 26's fresh projects) or ``every``.

Prints:
  * engine time over the whole corpus (all dialects) in one process, best of N rounds;
  * engine time for 100 files in one module-equivalent call (discover + analyse, as the module does);
  * engine vs squawk time over the PostgreSQL part, and their ratio;
  * every PostgreSQL file where the two verdicts disagree, with the corpus' expected verdict, and how many
    expected-unsafe files each tool misses and how many expected-safe files each flags.
Squawk's verdict is taken two ways: "any" (any violation, what its exit code says) and "hazard" (ignoring its
style/robustness rules that are not about backward compatibility or locking).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from zerodown_testkit.support import realworld
from zerodown_testkit.support.realworld import SQUAWK_STYLE_RULES

from ansible_collections.zerodown.deploy.plugins.module_utils._migration_check import run_check
from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import Catalog, analyze_sql

ROOT = Path(__file__).resolve().parents[2]

CORPUS = ROOT / "tests" / "corpus" / "migrations"
DIALECTS = ("postgresql", "mysql", "sqlite")
REALWORLD = {"tuned": realworld.TUNED, "issue-26": realworld.ISSUE_26, "every": realworld.EVERY}


def load_corpus():
    cases = []
    for dialect in DIALECTS:
        expected = yaml.safe_load((CORPUS / dialect / "expected.yml").read_text()) or {}
        for name in sorted(expected):
            path = CORPUS / dialect / name
            cases.append((dialect, path, path.read_text(encoding="utf-8"), expected[name]))
    return cases


def best(fn, rounds):
    times = []
    result = None
    for _round in range(rounds):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def check_params(path: str, pending) -> dict:
    """migration_check's parameters, as the module receives them."""
    return {
        "path": path,
        "sql": None,
        "dialect": "postgresql",
        "waivers": [],
        "pending": pending,
        "unapplied": [],
        "history": True,
        "on_undetermined": "block",
    }


def engine_verdicts(cases):
    return {str(path): analyze_sql(text, dialect, path.name).compatible for dialect, path, text, _entry in cases}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--squawk", default=shutil.which("squawk") or os.path.join(os.path.dirname(sys.executable), "squawk")
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--realworld", choices=sorted(REALWORLD), default="tuned")
    args = parser.parse_args()
    directories = realworld.directories(REALWORLD[args.realworld])

    cases = load_corpus()
    total_bytes = sum(len(case[2]) for case in cases)
    t_all = best(lambda: engine_verdicts(cases), args.rounds)[0]
    print("corpus: %d files (%d KB), all dialects" % (len(cases), total_bytes // 1024))
    print(
        "engine, whole corpus, one process: %.3f s (best of %d), %.2f ms/file"
        % (t_all, args.rounds, t_all * 1000 / len(cases))
    )

    pg = [c for c in cases if c[0] == "postgresql"]
    with tempfile.TemporaryDirectory() as tmp:
        hundred = Path(tmp) / "m"
        hundred.mkdir()
        names = []
        for i in range(100):
            path, text = pg[i % len(pg)][1], pg[i % len(pg)][2]
            names.append("%03d_%s" % (i + 1, path.name.split("_", 1)[1]))
            (hundred / names[-1]).write_text(text)
        for label, pending in (
            ("100 files checked, no history", None),
            ("100 files: 99 replayed as history, 1 pending", names[-1:]),
            ("100 files: 50 replayed as history, 50 pending", names[50:]),
        ):
            params = check_params(str(hundred), pending)
            t_100, result = best(lambda params=params: run_check(params, Catalog(), None), args.rounds)
            print(
                "engine, %s, one module-equivalent call (discover + replay + analyse): %.3f s (best of %d; target "
                "< 1 s), %d findings" % (label, t_100, args.rounds, len(result["findings"]))
            )
        real = sorted(p for d in directories if d.name == "postgresql" for p in d.glob("*.sql"))
        heavy = Path(tmp) / "real"
        heavy.mkdir()
        for i in range(100):
            (heavy / ("%03d_%s" % (i + 1, real[i % len(real)].name))).write_text(real[i % len(real)].read_text())
        last = sorted(p.name for p in heavy.iterdir())[-1:]
        params = check_params(str(heavy), last)
        t_heavy, result = best(lambda: run_check(params, Catalog(), None), args.rounds)
        print(
            "engine, 100 real-world PostgreSQL files (%s: %d KB; 99 history, 1 pending): %.3f s (best of %d; target < 1 s)"
            % (args.realworld, sum(p.stat().st_size for p in heavy.iterdir()) // 1024, t_heavy, args.rounds)
        )
    for directory in directories:
        files = sorted(p.name for p in directory.glob("*.sql"))
        params = dict(check_params(str(directory), files[-1:]), dialect=directory.name)
        t_real, result = best(lambda params=params: run_check(params, Catalog(), None), args.rounds)
        print(
            "engine, %s's real directory (%d files: %d history, 1 pending): %.3f s (best of %d)"
            % (directory.relative_to(realworld.CORPUS), len(files), len(result["history"]), t_real, args.rounds)
        )

    t_pg, ours = best(lambda: engine_verdicts(pg), args.rounds)
    if not os.path.exists(args.squawk):
        print("squawk not found at %s: comparison skipped" % args.squawk)
        return 1
    files = [str(case[1]) for case in pg]

    def run_squawk():
        proc = subprocess.run(
            [args.squawk, "--reporter", "json", "--no-error-on-unmatched-pattern", *files],
            capture_output=True,
            text=True,
            check=False,
        )
        return json.loads(proc.stdout or "[]")

    t_sq, violations = best(run_squawk, args.rounds)
    by_file = {}
    for v in violations:
        by_file.setdefault(os.path.basename(v["file"]), set()).add(v["rule_name"])
    print("PostgreSQL part: %d files" % len(pg))
    print(
        "  engine: %.3f s   squawk (one process, all files): %.3f s   ratio squawk/engine: %.1fx"
        % (t_pg, t_sq, t_sq / t_pg)
    )

    stats = {"engine": [0, 0], "squawk-any": [0, 0], "squawk-hazard": [0, 0]}  # [missed, false alarms]
    disagreements = []
    for case in pg:
        path, entry = case[1], case[3]
        expected_ok = bool(entry["compatible"])
        mine = ours[str(path)]
        rules = by_file.get(path.name, set())
        sq_any = not rules
        sq_hazard = not (rules - SQUAWK_STYLE_RULES)
        for key, verdict in (("engine", mine), ("squawk-any", sq_any), ("squawk-hazard", sq_hazard)):
            if verdict and not expected_ok:
                stats[key][0] += 1
            if not verdict and expected_ok:
                stats[key][1] += 1
        if mine != sq_hazard:
            disagreements.append((path.name, expected_ok, mine, sq_hazard, sorted(rules - SQUAWK_STYLE_RULES)))
    unsafe = sum(1 for case in pg if not case[3]["compatible"])
    print("  expected: %d unsafe, %d safe" % (unsafe, len(pg) - unsafe))
    for key, (missed, false_alarms) in stats.items():
        print("  %-14s missed hazards: %3d   false alarms: %3d" % (key, missed, false_alarms))
    print("  files where engine and squawk (hazard rules) disagree: %d" % len(disagreements))
    for name, expected_ok, mine, sq, rules in disagreements:
        print(
            "    %-55s expected=%-6s engine=%-6s squawk=%-6s squawk rules: %s"
            % (
                name,
                "safe" if expected_ok else "UNSAFE",
                "safe" if mine else "UNSAFE",
                "safe" if sq else "UNSAFE",
                ", ".join(rules) or "-",
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
