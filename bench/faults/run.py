"""Time from a fault to a consistent fleet, rolling deploy v1 -> v2 on 4 app hosts under load: medians of N runs.

    .venv/bin/python bench/faults/run.py [--runs N] [--write]

On a test fleet (``$ZERODOWN_BENCH_FLEET``, default ``zdbench``; booted if needed) each run installs v1 with the
fleet's bootstrap, starts ``ansible-playbook zerodown.deploy.deploy`` while a load generator sends traffic through
HAProxy (4 clients), and injects one fault; the clock starts when the fault is injected (written by the hook that
injects it, or the moment of the kill) and stops when the fleet is consistent again: the exit of the deploy (or,
for a killed deploy, of the ``zerodown.deploy.rollback`` that recovers it). Faults: app2's machine powered off in
batch 2 after its drain (the deploy stops, app1 goes back, app2 stays out of the pool); HAProxy reloaded in batch 1
(its runtime states back to the configuration: detected, rolled back); the deploy SIGKILLed in batch 2, then
``zerodown.deploy.rollback``. The same cases are tests in the ``faults`` molecule scenario (docs/reliability.md);
this measures them. With ``--write`` the ``## fault matrix`` section of bench/RESULTS.md is replaced.
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

from zerodown_testkit import bench
from zerodown_testkit.e2e import deploy_run
from zerodown_testkit.fleet import core

from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import HAProxyRuntime

FLEET = os.environ.get("ZERODOWN_BENCH_FLEET", "zdbench")


def stamp_task(path: Path) -> str:
    return (
        "- name: Write when the fault is injected\n"
        "  ansible.builtin.copy:\n"
        "    dest: %s\n"
        "    content: \"{{ lookup('ansible.builtin.pipe', 'date +%%s.%%N') }}\"\n"
        "  delegate_to: localhost\n" % path
    )


def kill_hook(path: Path) -> str:
    return (
        "- name: The fault in batch 2, on app2\n"
        "  when: inventory_hostname == 'app2' and zerodown_batch_index + 1 == 2\n"
        "  block:\n"
        + "".join("    " + line + "\n" for line in stamp_task(path).splitlines())
        + "    - name: Power app2 off hard\n"
        "      ansible.builtin.command:\n"
        '        argv: ["{{ ansible_playbook_python }}", -c, "from zerodown_testkit.fleet import core; '
        "core.kill_machine(core.load_spec('%s'), 'app2')\"]\n"
        "      delegate_to: localhost\n"
        "      changed_when: true\n" % FLEET
    )


def reload_hook(path: Path) -> str:
    return (
        "- name: The fault in batch 1\n"
        "  when: zerodown_batch_index == 0\n"
        "  run_once: true\n"
        "  block:\n"
        + "".join("    " + line + "\n" for line in stamp_task(path).splitlines())
        + "    - name: Reload HAProxy on lb1\n"
        "      ansible.builtin.command: systemctl reload haproxy\n"
        "      delegate_to: lb1\n"
        "      changed_when: true\n"
    )


def reset(facts: dict) -> None:
    """Every machine up, every server in the pool, v1 everywhere (the fleet's bootstrap)."""
    spec = core.load_spec(FLEET)
    for host in spec.hosts:
        if not core.machine_running(spec, host.name):
            core.restart_machine(spec, host.name)
    runtime = HAProxyRuntime(facts["fleet_haproxy_admin"])
    for name in ("app1", "app2", "app3", "app4"):
        runtime.set_server_state("app", name, "ready")
    deploy_run.fleet_cli("bootstrap", "--release", "v1", name=FLEET)


def deploy_with_hook(inventories, facts, hook_name: str, hook_text: str, tmp: Path) -> dict:
    stamp = tmp / "fault-at"
    stamp.unlink(missing_ok=True)
    hook = tmp / ("%s.yml" % hook_name)
    hook.write_text(hook_text(stamp))
    variable = "zerodown_hook_before_switch" if hook_name == "kill" else "zerodown_hook_before_allow_traffic"
    with deploy_run.under_load(facts["fleet_lb_url"], facts["fleet_haproxy_admin"], "app") as load:
        run = deploy_run.playbook("deploy", inventories, args=["-e", json.dumps({variable: str(hook)})])
        ended = time.time()
    if run.ok or not stamp.exists():
        sys.exit("the %s deploy did not fail at its fault:\n%s" % (hook_name, run.output[-3000:]))
    return {"seconds": ended - float(stamp.read_text()), "failed": load.report.failed, "requests": load.report.requests}


def killed_deploy(inventories, facts, tmp: Path, ledger_cmd) -> dict:
    with deploy_run.under_load(facts["fleet_lb_url"], facts["fleet_haproxy_admin"], "app") as load:
        before = ledger_cmd().get("run_id")
        proc = deploy_run.start_playbook("deploy", inventories, log=tmp / "killed.log")
        deadline = time.monotonic() + 180
        while True:
            data = ledger_cmd()
            if data.get("run_id") != before and len(data.get("batches", [])) >= 2:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("the deploy did not reach batch 2:\n%s" % (tmp / "killed.log").read_text()[-3000:])
            time.sleep(0.2)
        deploy_run.kill_tree(proc.pid)
        proc.wait()
        killed = time.time()
        run = deploy_run.playbook("rollback", inventories)
        ended = time.time()
    if not run.ok:
        sys.exit("the recovering rollback failed:\n%s" % run.output[-3000:])
    return {"seconds": ended - killed, "failed": load.report.failed, "requests": load.report.requests}


CASES = {
    "6 app host killed mid-batch": "kill",
    "10 HAProxy reloaded mid-deploy": "reload",
    "9 deploy SIGKILLed, then zerodown.deploy.rollback": "sigkill",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    facts, inventory, base_vars = bench.demo_fleet(FLEET)
    state = Path("/var/lib/zerodown-fleet") / FLEET
    ssh = ["ssh", "-F", str(state / "ssh_config"), "lb1", "cat", "/var/lib/zerodown/demoapp/ledger.json"]

    def ledger() -> dict:
        out = subprocess.run(ssh, capture_output=True, text=True, check=False).stdout
        return json.loads(out) if out.strip() else {}

    results = {case: [] for case in CASES}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        inventories = [inventory, str(deploy_run.write_vars_inventory(tmp / "vars.json", base_vars))]
        for i in range(args.runs):
            for case, kind in CASES.items():  # interleaved: every case sees the same machine load
                reset(facts)
                if kind == "sigkill":
                    r = killed_deploy(inventories, facts, tmp, ledger)
                else:
                    r = deploy_with_hook(inventories, facts, kind, kill_hook if kind == "kill" else reload_hook, tmp)
                results[case].append(r)
                print(
                    "run %d %-50s %5.1f s, %d of %d requests failed"
                    % (i + 1, case, r["seconds"], r["failed"], r["requests"]),
                    flush=True,
                )
        reset(facts)
    lines = [
        "## fault matrix: time from the fault to a consistent fleet",
        "",
        "Rolling deploy v1 -> v2, 4 app hosts of the test fleet, one host per batch, under load (4 clients through",
        "HAProxy, `retries 0`). Time = from the moment the fault is injected (written by the hook that injects it, or",
        "the kill) to the fleet consistent again: the deploy's exit, or for a killed deploy the exit of the",
        "`zerodown.deploy.rollback` that recovers it. Medians of %d runs, cases interleaved. Every case of the fault"
        % args.runs,
        "matrix is a test in the `faults` scenario (docs/reliability.md, one run each); this bench measures three.",
        "",
        "Command: `.venv/bin/python bench/faults/run.py --runs %d --write` (%s at the end)"
        % (args.runs, bench.when_and_load()),
        "",
        "| case | fault -> consistent (median) | runs | failed requests |",
        "|---|---|---|---|",
    ]
    for case, runs in results.items():
        lines.append(
            "| %s | %.1f s | %s | %d of %d |"
            % (
                case,
                statistics.median(r["seconds"] for r in runs),
                ", ".join("%.1f" % r["seconds"] for r in runs),
                sum(r["failed"] for r in runs),
                sum(r["requests"] for r in runs),
            )
        )
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write:
        bench.write_section("fault matrix: time from the fault to a consistent fleet", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
