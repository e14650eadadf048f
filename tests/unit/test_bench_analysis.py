"""bench/analysis/run.py's pure parts: the per-strategy options, what a ledger says about a deploy, the table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "analysis" / "run.py"
_SPEC = importlib.util.spec_from_file_location("bench_analysis_run", _PATH)
run = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(run)

STRATEGIES = ["rolling", "blue_green", "canary"]


def test_runs_and_variants_for_every_strategy_or_per_strategy():
    assert run.per_strategy("10", STRATEGIES, run.runs_count, "--runs") == {s: 10 for s in STRATEGIES}
    assert run.per_strategy("canary=10,rolling=3", STRATEGIES, run.runs_count, "--runs") == {
        "rolling": 3,
        "blue_green": 0,
        "canary": 10,
    }
    assert run.per_strategy("a,b", ["canary"], run.variant_list, "--variants") == {"canary": ["a", "b"]}
    assert run.per_strategy("canary:a+b,rolling:c", ["rolling", "canary"], run.variant_list, "--variants") == {
        "rolling": ["c"],
        "canary": ["a", "b"],
    }
    assert run.per_strategy("", STRATEGIES, run.variant_list, "--variants") == {s: [] for s in STRATEGIES}
    with pytest.raises(ValueError, match="'canry=3' is not <strategy>=<value>"):
        run.per_strategy("canry=3", STRATEGIES, run.runs_count, "--runs")
    with pytest.raises(ValueError, match="'x' is not a number of runs"):
        run.per_strategy("x", STRATEGIES, run.runs_count, "--runs")


def test_a_rolled_back_deploy_read_from_its_ledger():
    ledger = {
        "outcome": "rolled_back",
        "cause": "smoke test failed",
        "started_epoch": 105.0,
        "duration": 40.0,
        "hosts": {
            "app1": {"status": "rolled_back"},
            "app2": {"status": "rolled_back"},
            "app3": {"status": "staged"},
            "app4": {"status": "staged"},
        },
        "phases": [
            {"name": "stage", "started_epoch": 106.0},
            {"name": "batch 2", "started_epoch": 120.0},
            {"name": "rollback", "started_epoch": 130.5, "ended_epoch": None},
        ],
    }
    got = run.from_ledger(ledger, started=100.0)
    assert got["ran_release"] == ["app1", "app2"] and got["stopped_in"] == "batch 2"
    assert got["detected_s"] == 30.5 and got["rolled_back_s"] == 45.0  # no end recorded: the run's end
    ledger["phases"][1]["name"] = "canary"
    ledger["steps"] = [
        {"name": "canary 10%", "verdict": "pass", "latency_ratio": 0.8, "canary": {"error_rate": 0.0, "requests": 9}},
        {"name": "drain"},
        {"name": "canary 50%", "verdict": "fail", "latency_ratio": 1.9, "canary": {"error_rate": 0.0, "requests": 7}},
    ]
    got = run.from_ledger(ledger, started=100.0)
    assert got["stopped_in"] == "canary 50%" and [look["verdict"] for look in got["looks"]] == ["pass", "fail"]
    healthy = run.from_ledger({"outcome": "succeeded", "hosts": {}, "phases": [{"name": "stage"}]}, 0.0)
    assert healthy["detected_s"] is None and not run.rolled_back(healthy)


def test_medians_and_the_table():
    runs = [
        {"outcome": "succeeded", "failed": 0, "requests": 900, "seconds": 60.0, "ran_release": ["app1"]},
        {"outcome": "rolled_back", "cause": "latency  ratio 1.9", "failed": 2, "requests": 800, "seconds": 50.0,
         "detected_s": 30.0, "rolled_back_s": 40.0, "stopped_in": "canary", "ran_release": ["app1"]},
        {"outcome": "rolled_back", "cause": "latency ratio 1.9", "failed": 4, "requests": 700, "seconds": 40.0,
         "detected_s": 20.0, "rolled_back_s": 30.0, "stopped_in": "canary", "ran_release": ["app1"]},
    ]  # fmt: skip
    row = run.summarize(runs)
    assert row["rolled_back"] == 2 and row["causes"] == {"latency ratio 1.9": 2}
    assert row["failed_requests"] == 2 and row["failed_each"] == [0, 2, 4] and row["detected_s"] == 25.0
    assert row["wall_s"] == 50.0 and row["ran_release"] == 1 and row["stopped_in"] == ["canary"]
    lines = run.table([("canary", "v2", row), ("canary", "v2-errors-5", run.summarize(runs[:1]))])
    assert lines[2].startswith("| canary | v2 | 3 | 2 of 3 (false) | 2; 0, 2, 4 | 25 s | 35 s | canary | 1 | 50 s |")
    assert lines[2].endswith("| 2x latency ratio 1.9 |")
    assert "| 0 of 1 (missed 1) |" in lines[3]


def test_the_looks_of_each_run():
    runs = [
        {"strategy": "canary", "release": "v2", "run": 2, "looks": [{"name": "canary 10%", "verdict": "pass", "latency_ratio": 0.5}]},
        {"strategy": "rolling", "release": "v2", "run": 1, "looks": []},
    ]  # fmt: skip
    assert run.looks_lines(runs)[-1] == "- canary v2 #2: canary 10% pass (latency x0.50)"
    assert run.looks_lines(runs[1:]) == []
