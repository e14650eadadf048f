"""Benchmark the test fleet: rootfs (cached or built), `fleet up`, v1 bootstrap, `fleet down`.

    sudo .venv/bin/python bench/fleet_boot.py [--app-hosts 4] [--runs 3]

Prints one line per run and a JSON summary; figures go to bench/RESULTS.md
(section "test fleet"). Not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from zerodown_testkit.fleet import bootstrap, core, rootfs


def rss_kib(spec: core.FleetSpec, host: str) -> int:
    total = 0
    for pid in core._cgroup_pids(core.cgroup_dirs(spec.name, host)[0]):
        try:
            for line in Path("/proc/%d/status" % pid).read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app-hosts", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    cached = rootfs.rootfs_path().joinpath(".zerodown-complete").exists()
    started = time.monotonic()
    image = rootfs.ensure_rootfs(log=lambda m: None)
    rootfs_s = time.monotonic() - started
    size = subprocess.run(["du", "-sm", str(image)], capture_output=True, text=True, check=True).stdout.split()[0]
    print("rootfs %s: %.1f s (%s), %s MB" % (image.name, rootfs_s, "cached" if cached else "built", size))

    runs = []
    for i in range(args.runs):
        name = "b" + uuid.uuid4().hex[:6]
        spec = core.FleetSpec(name=name, app_hosts=args.app_hosts)
        try:
            t0 = time.monotonic()
            core.up(spec, log=lambda m: None)
            t1 = time.monotonic()
            core.up(spec, log=lambda m: None)
            t2 = time.monotonic()
            bootstrap.bootstrap(spec, "v1", log=lambda m: None)
            t3 = time.monotonic()
            rss = {h.name: rss_kib(spec, h.name) for h in spec.hosts}
            uppers = [str(spec.machine_dir(h.name) / "upper") for h in spec.hosts]
            upper = subprocess.run(["du", "-smc", *uppers], capture_output=True, text=True, check=True).stdout.split()[
                -2
            ]
        finally:
            t4 = time.monotonic()
            core.down(name, log=lambda m: None)
            t5 = time.monotonic()
        run = {
            "machines": len(spec.hosts),
            "up_s": round(t1 - t0, 2),
            "up_again_s": round(t2 - t1, 2),
            "bootstrap_v1_s": round(t3 - t2, 2),
            "down_s": round(t5 - t4, 2),
            # RSS summed over a machine's processes (shared pages counted once per process)
            "rss_mib_per_machine": round(statistics.mean(rss.values()) / 1024, 1),
            "overlay_upper_mb_total": int(upper),
        }
        runs.append(run)
        print("run %d: %s" % (i + 1, run))
    summary = {
        "rootfs": {"cached": cached, "seconds": round(rootfs_s, 1), "size_mb": int(size)},
        "machines": runs[0]["machines"],
        "up_s_median": statistics.median(r["up_s"] for r in runs),
        "up_again_s_median": statistics.median(r["up_again_s"] for r in runs),
        "bootstrap_v1_s_median": statistics.median(r["bootstrap_v1_s"] for r in runs),
        "down_s_median": statistics.median(r["down_s"] for r in runs),
        "rss_mib_per_machine": runs[0]["rss_mib_per_machine"],
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
