"""What the benchmarks share: the machine's load with each figure, and one ``## section`` of bench/RESULTS.md."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "RESULTS.md"


def when_and_load() -> str:
    """'2026-12-01, load average 1.7 (2 cores)': written beside every figure."""
    return "%s, load average %.1f (%d cores)" % (
        datetime.date.today().isoformat(),
        os.getloadavg()[0],
        os.cpu_count() or 0,
    )


def write_section(heading: str, text: str, path: Path = RESULTS) -> None:
    """Replace the ``## heading`` section of bench/RESULTS.md with ``text`` (which starts with that heading)."""
    current = path.read_text() if path.exists() else "# Benchmark results\n"
    marker = "\n## %s\n" % heading
    if marker in current:
        head, rest = current.split(marker, 1)
        tail = rest[rest.index("\n## ") :] if "\n## " in rest else "\n"
        current = head.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n" + tail
    else:
        current = current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    path.write_text(current)


def demo_fleet(name: str, release: str = "v2", app_hosts: int = 4):
    """Boot fleet ``name`` (idempotent) with v1 bootstrapped; (facts, inventory path, deploy variables of ``release``)."""
    from .e2e import deploy_run  # the fleet CLI and the sample app's deploy variables

    state = Path("/var/lib/zerodown-fleet") / name
    deploy_run.fleet_cli("up", "--app-hosts", str(app_hosts), name=name)
    deploy_run.fleet_cli("bootstrap", "--release", "v1", name=name)  # also builds the release tarballs
    facts = json.loads((state / "fleet.json").read_text())["facts"]
    return facts, str(state / "inventory.yml"), release_deploy_vars(facts, state, release)


def release_deploy_vars(facts: dict, state: Path, release: str) -> dict:
    """The sample app's deploy variables for ``release`` of the fleet whose state directory is ``state``."""
    from .e2e import deploy_run

    artifact = state / "releases" / ("demoapp-%s.tar.gz" % release)
    checksum = (state / "releases" / (artifact.name + ".sha256")).read_text().split()[0]
    return dict(
        deploy_run.DEMOAPP_DEPLOY_VARS,
        zerodown_release=release,
        zerodown_artifact=str(artifact),
        zerodown_artifact_checksum="sha256:" + checksum,
        zerodown_smoke_expect_version=release,
        zerodown_smoke_base_url=facts["fleet_lb_url"].rstrip("/"),
    )


# Deploy variables per strategy for the benches (on top of e2e.deploy_run.DEMOAPP_DEPLOY_VARS): rolling one host
# per batch (or zerodown_batch_size), blue-green in two colours of half the app hosts, canary one host at
# 10/50/100 % with a 3 s pause per step.
def strategy_vars(strategy: str, app_hosts: int = 4, batch_size="1") -> dict:
    hosts = ["app%d" % (i + 1) for i in range(app_hosts)]
    if strategy == "rolling":
        return {"zerodown_strategy": "rolling", "zerodown_batch_size": batch_size}
    if strategy == "blue_green":
        half = len(hosts) // 2
        return {
            "zerodown_strategy": "blue_green",
            "zerodown_blue_group": ":".join(hosts[:half]),
            "zerodown_green_group": ":".join(hosts[half:]),
        }
    if strategy == "canary":
        return {
            "zerodown_strategy": "canary",
            "zerodown_batch_size": batch_size,
            "zerodown_canary_hosts": 1,
            "zerodown_canary_steps": [10, 50, 100],
            "zerodown_canary_pause": 3,
            "zerodown_canary_min_requests": 20,
            "zerodown_canary_max_wait": 20,
        }
    raise ValueError("unknown strategy %r: rolling, blue_green or canary" % strategy)


STRATEGIES = ("rolling", "blue_green", "canary")


def task_profile(starts: list) -> list:
    """[(task, seconds)] from bench/rolling/callback's task-start lines (ZERODOWN_BENCH_TASKS): each task's wall time
    up to the next task's start (the last line, task None, is the end of the run), in the order they ran."""
    return [(a["task"], round(b["at"] - a["at"], 3)) for a, b in zip(starts, starts[1:]) if a["task"] is not None]


def inherent_per_batch(results: list) -> list:
    """The time the hosts themselves need, per batch of a rolling deploy, from bench/rolling/callback's lines.

    A batch is a drain and the host calls after it: drain (the longest of the load balancers' drain_seconds)
    + the slowest host's stop + start + start-up until its first ready answer (the readiness the release module
    runs on the host right after ``systemctl start``). The first batch's drain is its own call, the later ones are
    in the call that puts the batch before back into the pool (which drains nothing after the last batch: no
    ``drained_at``). Returns one dict per batch with those four and ``total``.
    """
    batches: list = []
    for line in results:
        task, r = line["task"], line["result"]
        items = r.get("results", [r])
        if "batch's servers" in task and any(i.get("drained_at") for i in items):
            batches.append({"drain": max((i.get("drain_seconds") or 0.0) for i in items), "hosts": []})
        elif "Stop, point current at the release, start" in task and batches:
            seconds = r.get("seconds", {})
            ready = max((t.get("time_to_ready") or 0.0) for t in r["ready"]["results"])
            batches[-1]["hosts"].append((seconds.get("stop", 0.0), seconds.get("start", 0.0), ready))
    out = []
    for b in batches:
        stop, start, ready = max(b["hosts"], key=sum) if b["hosts"] else (0.0, 0.0, 0.0)
        out.append(
            {
                "drain": b["drain"],
                "stop": stop,
                "start": start,
                "ready": ready,
                "total": b["drain"] + stop + start + ready,
            }
        )
    return out


class PeakRSS:
    """Peak resident memory of this process's descendants (ansible-playbook, its workers, ssh), sampled every 0.2 s:
    ``peak_bytes`` sums their RSS (what the issue asks for; the pages forked workers share with ansible-playbook are
    counted once per worker), ``peak_pss_bytes`` their PSS (each shared page split among its sharers: what the tree
    takes from the machine)."""

    def __init__(self) -> None:
        import threading

        self.peak_bytes = 0
        self.peak_pss_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _pss(pid: int) -> int:
        try:
            with open("/proc/%d/smaps_rollup" % pid, encoding="ascii", errors="replace") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError):
            pass
        return 0

    @classmethod
    def _tree(cls, root: int):
        """(RSS, PSS) summed over the descendants of ``root``."""
        parents, rss = {}, {}
        page = os.sysconf("SC_PAGE_SIZE")
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry, encoding="ascii", errors="replace") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * page
        total = pss = 0
        for pid in rss:
            p = pid
            while p > 1 and p != root:
                p = parents.get(p, 0)
            if p == root and pid != root:
                total += rss[pid]
                pss += cls._pss(pid)
        return total, pss

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.2):
            rss, pss = self._tree(me)
            self.peak_bytes = max(self.peak_bytes, rss)
            self.peak_pss_bytes = max(self.peak_pss_bytes, pss)


CACHE = RESULTS.parents[1] / ".bench-out" / "cache"
ANSIBLE_PACKAGE = "ansible>=12,<13"  # the community package whose community.general runs on ansible-core 2.19


def community_general() -> Path:
    """A collections directory holding community.general and ansible.posix, unpacked from the ``ansible`` wheel once
    (there is no Galaxy here; the references of bench/compare and bench/drain need them)."""
    root = CACHE / "collections"
    if (root / "ansible_collections" / "community" / "general" / "plugins" / "modules" / "haproxy.py").exists():
        return root
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", ANSIBLE_PACKAGE, "-d", str(wheels)], check=True
    )
    wheel = sorted(wheels.glob("ansible-*.whl"))[-1]
    with zipfile.ZipFile(wheel) as archive:
        members = [
            m
            for m in archive.namelist()
            if m.startswith(("ansible_collections/community/general/", "ansible_collections/ansible/posix/"))
        ]
        archive.extractall(root, members)
    return root
