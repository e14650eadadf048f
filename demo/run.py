"""``make demo [STRATEGY=rolling|blue_green|canary]``: a live deploy of the sample app under load, on the test fleet.

Boots the fleet (4 app hosts behind HAProxy, a database), installs v1 of the
sample app, then deploys v2 with ``ansible-playbook zerodown.deploy.deploy``
with the strategy asked for (rolling one host per batch; blue-green app1:app2 /
app3:app4; canary app1 at 10/50/100 % then the rest one host per batch) while a
load generator sends traffic through the load balancer. While it runs it prints,
every two seconds, the phase, the batch or canary step, the traffic share per
release, the requests served and the failures so far; at the end the deploy's
summary, the whole-deploy time beside the time the hosts themselves needed
(the inherent bound: per batch drain + stop + start + first ready answer), the
time per phase (from the deploy ledger) and the path of the HTML deploy report.
Running it again re-installs v1 and deploys v2 again. ``make demo-down``
removes the fleet.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from zerodown_testkit import bench
from zerodown_testkit.e2e import deploy_run

FLEET = os.environ.get("ZERODOWN_DEMO_FLEET", "zddemo")
STATE = Path("/var/lib/zerodown-fleet") / FLEET
REPO = Path(__file__).resolve().parents[1]
# task results as JSON lines, for the inherent bound (the bench's callback, not part of the collection)
RESULTS_CALLBACK = REPO / "bench" / "rolling" / "callback"


def fleet(*args: str) -> str:
    return deploy_run.fleet_cli(*args, name=FLEET)


def say(text: str) -> None:
    print("\n== " + text, flush=True)


def ledger(inventory: str) -> dict:
    cmd = [
        deploy_run.ansible_bin("ansible"),
        "-i",
        inventory,
        "lb1",
        "-o",
        "-m",
        "zerodown.deploy.deploy_ledger",
        "-a",
        json.dumps({"app": "demoapp", "state": "query"}),
    ]
    out = subprocess.run(cmd, env=deploy_run.ansible_env(), capture_output=True, text=True, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("lb1 | ")), "")
    return json.loads(line.split(" => ", 1)[1]) if " => " in line else {}


class Progress:
    """What the playbook is doing (from its output lines) and, every two seconds, what the traffic shows."""

    def __init__(self, load) -> None:
        self.load = load
        self.phase = "starting"
        self.detail = ""
        self.report_path = ""
        self.summary: list = []
        self.rolling_back = False
        self._seen = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self._in_summary = False

    def line(self, line: str) -> None:
        m = re.match(r"PLAY \[Zerodown (?:deploy|rollback) \| ([^\]]*)\]", line)
        if m:
            if "roll back" not in m.group(1) or self.rolling_back:
                self.phase, self.detail = m.group(1), ""
            return
        # The batch that runs now, from the task that runs now: the rolling role ends the names of a batch's tasks
        # with it ("... - batch 2 of 4 (app2)", templated when the task starts). Not the "(item=batch N: ...)"
        # lines: ansible prints them for every looped include before the first batch runs.
        m = re.match(r"TASK \[zerodown\.deploy\.rolling : .* - (batch \d+ of \d+ \([^)]*\))\]", line)
        if m:
            self.detail = m.group(1)
            return
        m = re.search(r"TASK \[zerodown\.deploy\.canary : ([^\]]*)\]", line)
        if m and "step" in m.group(1).lower() and not m.group(1).startswith("Validating"):
            self.detail = "canary: " + m.group(1)
            return
        m = re.search(r"\(item=(step \d+[^)]*)\)", line)
        if m:
            self.detail = "canary " + m.group(1)
            return
        if line.startswith("TASK [Remember why the deploy stops") and not self.rolling_back:
            self.rolling_back = True
            print("  !! the deploy stops: rolling back every host it moved", flush=True)
        m = re.search(r"deploy report: (\S+\.html)", line)
        if m:
            self.report_path = m.group(1)
        if line.startswith("TASK [Show the summary]"):
            self._in_summary = True
        elif self._in_summary:
            if line.startswith(("TASK [", "PLAY ")):
                self._in_summary = False
            else:
                m = re.match(r'\s+"(.*)",?$', line)
                if m:
                    self.summary.append(m.group(1).replace('\\"', '"'))

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _tick(self) -> None:
        while not self._stop.wait(2.0):
            versions = self.load.versions_so_far()
            recent = {v: n - self._seen.get(v, 0) for v, n in versions.items()}
            self._seen = versions
            total = sum(recent.values()) or 1
            share = " ".join("%s %3.0f%%" % (v, 100.0 * n / total) for v, n in sorted(recent.items()) if n)
            print(
                "  [%5.1f s] %-40s %-30s | traffic %-16s | %6d requests, %d failed"
                % (
                    self.load.elapsed,
                    self.phase[:40],
                    self.detail[:30],
                    share,
                    self.load.requests_so_far,
                    len(self.load.failures_so_far()),
                ),
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--release", default="v2", help="release to deploy (default v2; try v2-never-ready)")
    parser.add_argument("--strategy", default=os.environ.get("STRATEGY") or "rolling", choices=bench.STRATEGIES)
    args = parser.parse_args()

    say("test fleet %s: 4 app hosts, lb1 (HAProxy, retries 0), db1" % FLEET)
    t0 = time.monotonic()
    print(fleet("up", "--app-hosts", "4").strip().splitlines()[-1])
    say("bootstrap v1 on every app host")
    print(fleet("bootstrap", "--release", "v1").strip().splitlines()[-1])
    facts = json.loads((STATE / "fleet.json").read_text())["facts"]
    inventory = str(STATE / "inventory.yml")
    lb_url, admin = facts["fleet_lb_url"], facts["fleet_haproxy_admin"]
    # a re-run after the sample app changed must not meet an older unpack of the same release id
    deploy_run.remove_release(inventory, "app", args.release)
    print("set-up took %.1f s" % (time.monotonic() - t0))

    artifact = STATE / "releases" / ("demoapp-%s.tar.gz" % args.release)
    checksum = (STATE / "releases" / ("demoapp-%s.tar.gz.sha256" % args.release)).read_text().split()[0]
    deploy_vars = dict(
        deploy_run.DEMOAPP_DEPLOY_VARS,
        zerodown_release=args.release,
        zerodown_artifact=str(artifact),
        zerodown_artifact_checksum="sha256:" + checksum,
        zerodown_smoke_expect_version=args.release,
        zerodown_smoke_base_url=lb_url.rstrip("/"),
        **bench.strategy_vars(args.strategy, 4),
    )
    reports = STATE / "reports"
    with tempfile.TemporaryDirectory() as tmp:
        vars_inv = deploy_run.write_vars_inventory(Path(tmp) / "vars.json", deploy_vars)
        results_file = Path(tmp) / "results.jsonl"
        env = {
            "ANSIBLE_CALLBACK_PLUGINS": str(RESULTS_CALLBACK),
            "ZERODOWN_BENCH_RESULTS": str(results_file),
            "ANSIBLE_CALLBACKS_ENABLED": "zerodown.deploy.deploy_report",
            "ZERODOWN_REPORT_DIR": str(reports),
        }
        say("deploy %s (%s) while the load generator runs through %s" % (args.release, args.strategy, lb_url))
        with deploy_run.under_load(lb_url, admin, "app") as load, Progress(load) as progress:
            run = deploy_run.playbook("deploy", [inventory, str(vars_inv)], env=env, on_line=progress.line)
        report = load.report
        data = ledger(inventory)
        lines = [json.loads(x) for x in results_file.read_text().splitlines()] if results_file.exists() else []

    say("result")
    for line in progress.summary:
        print("  " + line)
    print("deploy: %s in %.1f s (ansible-playbook exit %d)" % ("OK" if run.ok else "FAILED", run.seconds, run.rc))
    batches = bench.inherent_per_batch(lines)
    if batches:
        inherent = sum(b["total"] for b in batches)
        print(
            "whole deploy %.1f s beside the %.1f s the hosts themselves needed in the %d rolling batch(es) (drain + "
            "stop + start + first ready answer) = %.2fx%s"
            % (
                run.seconds,
                inherent,
                len(batches),
                run.seconds / inherent,
                "" if args.strategy == "rolling" else " (the canary's steps and pauses come on top, by design)",
            )
        )
    print(
        "requests: %d, failed: %d; HAProxy retries %d, redispatches %d; latency p50 %.1f ms p99 %.1f ms"
        % (
            report.requests,
            report.failed,
            report.haproxy_delta_totals.get("wretr", -1),
            report.haproxy_delta_totals.get("wredis", -1),
            report.latency_ms.get("p50", 0),
            report.latency_ms.get("p99", 0),
        )
    )
    print("versions answering: %s" % report.versions)
    ledger_data = data.get("ledger") or {}
    print("ledger: outcome %s, %s s" % (ledger_data.get("outcome"), ledger_data.get("duration")))
    for phase in ledger_data.get("phases") or []:
        if phase.get("seconds") is not None:
            print("  %-10s %7.2f s" % (phase["name"], phase["seconds"]))
    print("deploy report: %s" % (progress.report_path or "(none written: see the output above)"))
    if not run.ok:
        print(run.output[-2000:])
    return 0 if run.ok and report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
