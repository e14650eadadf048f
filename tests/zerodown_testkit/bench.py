"""What the benchmarks share: the machine's load with each figure, and one ``## section`` of bench/RESULTS.md."""

from __future__ import annotations

import datetime
import json
import os
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
    artifact = state / "releases" / ("demoapp-%s.tar.gz" % release)
    checksum = (state / "releases" / (artifact.name + ".sha256")).read_text().split()[0]
    deploy_vars = dict(
        deploy_run.DEMOAPP_DEPLOY_VARS,
        zerodown_release=release,
        zerodown_artifact=str(artifact),
        zerodown_artifact_checksum="sha256:" + checksum,
        zerodown_smoke_expect_version=release,
        zerodown_smoke_base_url=facts["fleet_lb_url"].rstrip("/"),
    )
    return facts, str(state / "inventory.yml"), deploy_vars
