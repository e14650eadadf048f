"""The execution environment image (``make ee``) and jobs run in it the way an execution node runs them.

``built_image()`` builds (or, with nothing changed, finds in podman's cache) the image and returns its name.

``runner_job()`` runs a playbook of a project with ``ansible-runner run --process-isolation --container-image``: the
private data directory holds the project, an inventory of static files, the job's environment variables and the
machine credential as ``env/ssh_key`` (ansible-runner hands it to an ssh-agent inside the container, as AWX does
with a machine credential); ansible-runner mounts the directory at ``/runner`` and writes the job's events, stdout,
status and ``rc`` to ``artifacts/<ident>/``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest

from zerodown_testkit.support.ansible_run import REPO
from zerodown_testkit.support.podman import podman_args


class ImageBuildError(RuntimeError):
    pass


def built_image() -> str:
    """``make ee``, then the name of the image it built (``build/ee/image``)."""
    proc = subprocess.run(["make", "-C", str(REPO), "ee"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ImageBuildError("make ee failed (exit %d):\n%s" % (proc.returncode, (proc.stdout + proc.stderr)[-6000:]))
    return (REPO / "build/ee/image").read_text().strip()


@pytest.fixture(scope="session")
def ee_image() -> str:
    """The image's name, built once per test session (a test module imports this fixture)."""
    try:
        return built_image()
    except ImageBuildError as exc:
        pytest.fail(str(exc))


@dataclass
class Job:
    """What ansible-runner left in the job's artifacts directory."""

    artifacts: Path
    command: List[str]
    output: str  # ansible-runner's own output (its errors when the container did not start)

    @property
    def status(self) -> str:
        path = self.artifacts / "status"
        return path.read_text().strip() if path.exists() else "no status"

    @property
    def rc(self) -> Optional[int]:
        path = self.artifacts / "rc"
        return int(path.read_text().strip()) if path.exists() else None

    @property
    def stdout(self) -> str:
        path = self.artifacts / "stdout"
        return path.read_text() if path.exists() else ""

    @property
    def events(self) -> List[dict]:
        """The job events in order (``job_events/<counter>-<uuid>.json``)."""
        files = sorted((self.artifacts / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0]))
        return [json.loads(p.read_text()) for p in files]

    def host_path(self, container_path: str) -> Path:
        """The file on this machine that a path under ``/runner/artifacts/<ident>`` in the container names."""
        inside = Path(container_path).relative_to(Path("/runner/artifacts") / self.artifacts.name)
        return self.artifacts / inside


def _write(path: Path, text: str, mode: int = 0o640) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def runner_job(
    private: Path,
    image: str,
    project: Path,
    playbook: str,
    inventory_files: Dict[str, str],
    ssh_key: Path,
    envvars: Dict[str, str],
    mounts: Sequence[str] = (),
    timeout: int = 900,
) -> Job:
    """Run ``playbook`` of a copy of ``project`` in ``image`` through the ansible-runner CLI.

    ``inventory_files`` maps a path under ``inventory/`` to its text (hosts, group_vars, host_vars); ``mounts``
    are further ``host:container[:options]`` bind mounts (files the inventory names on the controller).
    """
    shutil.copytree(project, private / "project")
    for name, text in inventory_files.items():
        _write(private / "inventory" / name, text)
    # the machine credential: runner feeds it to ssh-add through a pipe in the container
    _write(private / "env" / "ssh_key", ssh_key.read_text(), 0o600)
    _write(private / "env" / "envvars", json.dumps(envvars))
    ident = "job-%s" % uuid.uuid4().hex[:8]
    command = [
        str(Path(shutil.which("ansible-runner") or "ansible-runner")),
        "run",
        str(private),
        "--playbook",
        playbook,
        "--ident",
        ident,
        "--process-isolation",
        "--process-isolation-executable",
        "podman",
        "--container-image",
        image,
    ]
    # what podman needs on this machine (support/podman.py); the fleet's network; and root in the container, as
    # ansible-navigator runs an EE (the image's user 1000 cannot read the private data directory's 0600 files, the
    # machine credential's pipe among them, when a root podman mounts them)
    for option in podman_args() + ["--network", "host", "--user=root"]:
        command.append("--container-option=%s" % option)
    for mount in mounts:
        command += ["--container-volume-mount", mount]
    proc = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout)
    return Job(artifacts=private / "artifacts" / ident, command=command, output=proc.stdout + proc.stderr)
