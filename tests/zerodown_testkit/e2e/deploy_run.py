"""Run a zerodown.deploy playbook against a test fleet, optionally under load.

One place for what the molecule verifier, ``make demo`` and the rolling
benchmark all do: call ``ansible-playbook zerodown.deploy.<name>`` with the
fleet's inventory (plus extra inventory files that carry the deploy variables,
so a per-host value can beat a group value, which ``-e`` would not allow),
while ``zerodown_testkit.support.loadgen`` sends traffic through the load balancer.

    run = playbook("deploy", inventories=[fleet_inv, vars_inv])
    with under_load(lb_url, haproxy_admin) as load:
        run = playbook("deploy", ...)
    load.report.failed, load.report.haproxy_delta_totals
    with under_load(nginx_url) as load:      # nginx: no HAProxy counters (report.haproxy_read is False)
        ...
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

from ..support.ansible_run import base_env
from ..support.loadgen import LoadGenerator

# The deploy variables of the sample app (zerodown_testkit.fleet) on a test fleet; callers add the
# release, its artifact and checksum, and the smoke test's base URL and expected version.
DEMOAPP_DEPLOY_VARS = {
    "zerodown_app_name": "demoapp",
    "zerodown_exec_start": "bin/start",
    "zerodown_app_user": "demoapp",
    "zerodown_app_group": "demoapp",
    "zerodown_environment_file": "/opt/demoapp/shared/demoapp.env",
    "zerodown_strategy": "rolling",
    "zerodown_batch_size": 1,
    "zerodown_keep_releases": 2,
    "zerodown_lb": {"provider": "haproxy", "socket": "/run/haproxy/admin.sock", "backend": "app"},
    "zerodown_app_port": 8080,
    "zerodown_health_path": "/health/ready",
    "zerodown_version_header": "X-App-Version",
    "zerodown_drain_timeout": 30,
    "zerodown_ready_timeout": 30,
    "zerodown_smoke_checks": [{"name": "home", "path": "/"}, {"name": "version", "path": "/version"}],
}


@dataclass
class PlaybookRun:
    rc: int
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.rc == 0


def ansible_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """For playbooks against a fleet: pipelining, persistent SSH connections, enough forks for every host."""
    settings = dict(
        ANSIBLE_PIPELINING="true",
        ANSIBLE_FORKS="20",
        # a host that dies or is cut off is given up on within 15 s instead of the kernel's TCP retransmission time
        ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=120s -o ServerAliveInterval=5 -o ServerAliveCountMax=3",
    )
    settings.update(extra or {})
    return base_env(**settings)


def ansible_bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def fleet_cli(*args: str, name: str) -> str:
    """Run the test-fleet CLI on fleet ``name`` (for scripts: exit with its output on failure)."""
    proc = subprocess.run(
        [sys.executable, "-m", "zerodown_testkit.fleet", *args, "--name", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit("fleet %s failed:\n%s%s" % (" ".join(args), proc.stdout, proc.stderr))
    return proc.stdout


def playbook_cmd(name: str, inventories: Sequence[str], args: Sequence[str] = ()) -> List[str]:
    """``name`` is one of the collection's playbooks (deploy, rollback, contract) or the path of a playbook file."""
    cmd = [ansible_bin("ansible-playbook")]
    for inv in inventories:
        cmd += ["-i", str(inv)]
    target = str(name) if str(name).endswith((".yml", ".yaml")) else "zerodown.deploy." + name
    return cmd + [target] + list(args)


def playbook(
    name: str,
    inventories: Sequence[str],
    args: Sequence[str] = (),
    env: Optional[Dict[str, str]] = None,
    echo: bool = False,
    timeout: float = 1800,
    on_line=None,
) -> PlaybookRun:
    """Run ``zerodown.deploy.<name>``; ``echo`` streams its output, ``on_line`` sees each line (the demo)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        playbook_cmd(name, inventories, args),
        env=ansible_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if echo:
            sys.stdout.write(line)
            sys.stdout.flush()
        if on_line is not None:
            on_line(line)
    rc = proc.wait(timeout=timeout)
    return PlaybookRun(rc, "".join(lines), time.monotonic() - start)


def start_playbook(name: str, inventories: Sequence[str], args: Sequence[str] = (), log: Optional[Path] = None):
    """Start a playbook in the background (the lock test); returns the Popen."""
    handle = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed by the caller's wait
    return subprocess.Popen(
        playbook_cmd(name, inventories, args), env=ansible_env(), stdout=handle, stderr=subprocess.STDOUT, text=True
    )


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every process under it (ansible-playbook and its workers; the SSH control masters,
    detached, stay): a deploy killed as the OOM killer or ``kill -9`` would."""
    try:
        children = Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split()
    except OSError:
        children = []
    os.kill(pid, signal.SIGKILL)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            kill_tree(int(child))


@contextlib.contextmanager
def under_load(
    url: str,
    haproxy: Optional[str] = None,
    backend: str = "app",
    concurrency: int = 4,
    keepalive: bool = True,
    saturate: bool = False,
) -> Iterator:
    """Traffic through the load balancer for as long as the block runs (bounded at 30 min).

    By default each client keeps its connection open (HTTP keep-alive, as browsers and API clients do): with
    HAProxy reusing its server connections and the sample app on gunicorn's keep-alive, connections stay open
    across every drain, stop and switch. ``keepalive=False`` opens a new connection per request (through nginx:
    its reload closes idle client connections, which a keep-alive client must retry; the load generator would
    count that close as a failed request, though the deploy lost none).

    Each client pauses 10 ms between requests, which keeps the many end-to-end cases quick; ``saturate`` sends
    the next request as soon as an answer is in, which keeps both cores busy (the deploy's own processes then
    compete with the traffic, as on a busy fleet): each strategy's deploy and rollback cases use it.

    ``haproxy`` (a runtime API address) adds HAProxy's retry/redispatch counters to the report; without it
    (nginx: ``fleet_nginx_url``) there are none, ``load.report.haproxy_read`` is False and zero failed
    requests is the proof.
    """
    load = LoadGenerator(
        url,
        concurrency=concurrency,
        max_duration=1800,
        max_requests=100_000_000,
        keepalive=keepalive,
        pause=0.0 if saturate else 0.01,
        haproxy=[haproxy] if haproxy else [],
        haproxy_backend=backend if haproxy else None,
    )
    load.start()
    try:
        yield load
    finally:
        load.stop()


def write_vars_inventory(path: Path, group_vars: Dict, host_vars: Optional[Dict[str, Dict]] = None) -> Path:
    """An inventory file (JSON is YAML) with deploy variables for ``all`` and per-host overrides."""
    data: Dict = {"all": {"vars": group_vars}} if group_vars else {"all": {}}
    if host_vars:
        data["all"]["hosts"] = host_vars
    path.write_text(json.dumps(data, indent=1))
    return path


def remove_release(inventory: str, hosts: str, release: str, app: str = "demoapp") -> None:
    """Remove an installed, not live, release from hosts (test set-up: a rebuilt artifact under the same id)."""
    cmd = [
        ansible_bin("ansible"),
        "-i",
        str(inventory),
        hosts,
        "-m",
        "zerodown.deploy.release",
        "-a",
        json.dumps({"app": app, "release": release, "state": "absent"}),
    ]
    out = subprocess.run(cmd, env=ansible_env(), capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError("removing %s from %s failed:\n%s%s" % (release, hosts, out.stdout, out.stderr))
