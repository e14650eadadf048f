"""The test-support package imports from anywhere, and nothing edits sys.path to make it so."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from zerodown_testkit.fleet import ansible_inventory
from zerodown_testkit.support.ansible_run import REPO

# sys.path.insert/append/extend/remove, sys.path[...] = ..., sys.path = / += ..., site.addsitedir(...)
SYS_PATH_EDIT = re.compile(
    r"\bsys\.path\s*(\.\s*(insert|append|extend|remove)\s*\(|\[[^\]]*\]\s*=[^=]|\+=|=[^=])|\bsite\.addsitedir\s*\("
)


def _python_files() -> list:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.py"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    return [name for name in out.decode().split("\0") if name and (REPO / name).exists()]


def test_no_python_file_edits_sys_path():
    files = _python_files()
    assert "tests/zerodown_testkit/fleet/core.py" in files
    offenders = []
    for name in files:
        if name.startswith((".venv/", ".collections/")):
            continue
        for number, line in enumerate((REPO / name).read_text(errors="replace").splitlines(), 1):
            if SYS_PATH_EDIT.search(line) and name != "tests/unit/test_testkit.py":
                offenders.append("%s:%d: %s" % (name, number, line.strip()))
    assert offenders == [], "import zerodown_testkit / ansible_collections instead (make venv's .pth):\n" + "\n".join(
        offenders
    )


def test_the_sys_path_pattern_catches_the_usual_tricks():
    for line in (
        "sys.path.insert(0, str(REPO / 'tests'))",
        "sys.path.append(x)",
        "sys.path[0] = os.path.dirname(here)",
        "sys.path += [x]",
        "site.addsitedir(x)",
    ):
        assert SYS_PATH_EDIT.search(line), line
    for line in ("if str(x) not in sys.path:", "print(sys.path)", "sys.path[0] == here"):
        assert not SYS_PATH_EDIT.search(line), line


def test_fleet_cli_runs_from_any_directory():
    proc = subprocess.run(
        [sys.executable, "-m", "zerodown_testkit.fleet", "--help"],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: fleet ") and "bootstrap" in proc.stdout


def test_inventory_script_runs_as_a_script_from_any_directory(tmp_path):
    # what Ansible does with molecule's inventory link: execute the file itself
    env = dict(os.environ, ZERODOWN_FLEET_STATE=str(tmp_path), ZERODOWN_FLEET_NAME="unitinv")
    proc = subprocess.run(
        [sys.executable, ansible_inventory.__file__, "--list"],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["app"] == {"hosts": []}


def test_the_inherent_bound_is_per_batch_the_drain_and_the_slowest_host():
    from zerodown_testkit import bench

    def host(stop, start, ready):
        return {
            "task": "zerodown.deploy.rolling : Stop, point current at the release, start, wait until ready",
            "result": {"seconds": {"stop": stop, "start": start}, "ready": {"results": [{"time_to_ready": ready}]}},
        }

    drained = {"drained_at": 1.0, "drain_seconds": 0.25}
    first = {"task": "Drain the first batch's servers, recorded", "result": {"results": [drained, {"drained_at": 1.0}]}}
    handover = {"task": "Back into the pool, and drain the next batch's servers", "result": {"drained_at": 2.0}}
    last = dict(handover, result={"results": [{"drained_at": None, "drain_seconds": 0.0}]})
    lines = [first, host(0.5, 0.1, 2.0), host(0.5, 0.1, 2.5), dict(handover, result=dict(handover["result"]))]
    lines += [host(0.25, 0.25, 2.0), last, {"task": "Finish the ledger", "result": {}}]
    batches = bench.inherent_per_batch(lines)
    assert [b["total"] for b in batches] == [0.25 + 0.5 + 0.1 + 2.5, 2.5]  # the last handover drains nothing
    assert batches[0]["ready"] == 2.5


def test_bench_strategy_variables_split_blue_green_into_halves():
    from zerodown_testkit import bench

    assert bench.strategy_vars("blue_green", 4)["zerodown_green_group"] == "app3:app4"
    assert bench.strategy_vars("rolling", 12, "25%")["zerodown_batch_size"] == "25%"
    with pytest.raises(ValueError, match="unknown strategy"):
        bench.strategy_vars("big_bang")


def test_the_task_profile_gives_each_task_its_time_up_to_the_next_start():
    from zerodown_testkit import bench

    starts = [{"task": "Plan", "at": 10.0}, {"task": "Lock", "at": 10.5}, {"task": "Stage", "at": 11.75}]
    assert bench.task_profile(starts + [{"task": None, "at": 14.0}]) == [("Plan", 0.5), ("Lock", 1.25), ("Stage", 2.25)]


def test_peak_memory_counts_a_child_both_as_rss_and_as_pss():
    import subprocess
    import sys

    from zerodown_testkit import bench

    with bench.PeakRSS() as peak:
        child = "x = bytearray(40 * 2**20); import time; time.sleep(1.0)"
        subprocess.run([sys.executable, "-c", child], check=True)
    assert peak.peak_bytes >= 40 * 2**20 and peak.peak_pss_bytes >= 35 * 2**20
    assert peak.peak_pss_bytes <= peak.peak_bytes


def _unit_test_ids(hash_seed: str) -> list:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", "tests/unit"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONHASHSEED=hash_seed),
        timeout=300,
        check=False,
    )
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    assert out.returncode == 0 and ids, out.stdout[-2000:] + out.stderr[-2000:]
    return ids


def test_unit_test_ids_are_the_same_in_every_process():
    """make unit runs two pytest-xdist workers, which must collect the same ids: none may hold an object's address
    (``<object object at 0x...>``) or depend on a process's hash seed (set order)."""
    first, second = _unit_test_ids("1"), _unit_test_ids("4242")
    assert first == second, sorted(set(first) ^ set(second))[:10]
    assert not [i for i in first if re.search(r" at 0x[0-9a-f]+", i)]
