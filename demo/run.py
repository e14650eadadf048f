"""``make demo``: a rolling deploy of the sample app under load, on the test fleet.

Boots the fleet (4 app hosts behind HAProxy, a database), installs v1 of the
sample app, then deploys v2 with ``ansible-playbook zerodown.deploy.deploy``
(rolling, one host per batch) while a load generator sends traffic through
the load balancer, and prints what a person wants to see: progress per batch,
then failed requests, HAProxy retries, duration and time per phase (from the
deploy ledger). Running it again re-installs v1 and deploys v2 again.
``make demo-down`` removes the fleet.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zerodown_testkit.e2e import deploy_run

FLEET = os.environ.get("ZERODOWN_DEMO_FLEET", "zddemo")
STATE = Path("/var/lib/zerodown-fleet") / FLEET


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--release", default="v2", help="release to deploy (default v2; try v2-never-ready)")
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
    )
    with tempfile.TemporaryDirectory() as tmp:
        vars_inv = deploy_run.write_vars_inventory(Path(tmp) / "vars.json", deploy_vars)
        say("deploy %s (rolling, 1 host per batch) while the load generator runs through %s" % (args.release, lb_url))

        rolling_back: list = []

        def progress(line: str) -> None:
            m = re.search(r"\(item=(batch \d+: [^)]*)\)", line)
            if m:
                print("  " + m.group(1), flush=True)
            elif line.startswith("PLAY [Zerodown") and ("rollback" not in line or rolling_back):
                print("  " + line.split("[", 1)[1].split("]", 1)[0], flush=True)
            elif line.startswith("TASK [Remember why the deploy stops]") and not rolling_back:
                rolling_back.append(True)
                print("  !! the deploy stops: rolling back every host it moved", flush=True)
            elif '"msg": "deploy of' in line or "fatal: [lb1]" in line and "rolled back" in line:
                print("  " + line.strip()[:400], flush=True)

        with deploy_run.under_load(lb_url, admin, "app") as load:
            run = deploy_run.playbook("deploy", [inventory, str(vars_inv)], on_line=progress)
        report = load.report
        data = ledger(inventory)

    say("result")
    print("deploy: %s in %.1f s (ansible-playbook exit %d)" % ("OK" if run.ok else "FAILED", run.seconds, run.rc))
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
    if not run.ok:
        print(run.output[-2000:])
    return 0 if run.ok and report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
