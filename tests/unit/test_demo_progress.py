"""demo/run.py's progress line names the batch that runs now, from the TASK banners of the rolling role."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "demo" / "run.py"


@pytest.fixture(scope="module")
def demo():
    spec = importlib.util.spec_from_file_location("zerodown_demo_run", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# What ansible-playbook prints for a rolling deploy of 4 hosts, one per batch (banners shortened to the name).
INCLUDED = [
    "included: /c/roles/rolling/tasks/batch.yml for app1, app2, app3, app4 => (item=batch 1: app1)",
    "included: /c/roles/rolling/tasks/batch.yml for app1, app2, app3, app4 => (item=batch 2: app2)",
    "included: /c/roles/rolling/tasks/batch.yml for app1, app2, app3, app4 => (item=batch 3: app3)",
    "included: /c/roles/rolling/tasks/batch.yml for app1, app2, app3, app4 => (item=batch 4: app4)",
]


def banner(name):
    return "TASK [zerodown.deploy.rolling : %s] %s" % (name, "*" * 20)


def test_the_progress_names_the_batch_running_now_not_the_last_one_included(demo):
    progress = demo.Progress(load=None)
    progress.line("PLAY [Zerodown deploy | strategy (the role the plan names)] ****")
    for line in INCLUDED:
        progress.line(line)
    assert progress.detail == ""  # ansible listed every batch before the first ran: none of them runs yet
    progress.line(banner("Judge what moved so far against what did not (a breach rolls back) - batch 1 of 4 (app1)"))
    assert progress.detail == "batch 1 of 4 (app1)"
    progress.line(
        banner(
            "Stop, point current at the release, start, wait until ready on the host (one call per "
            "host) - batch 2 of 4 (app2)"
        )
    )
    assert progress.detail == "batch 2 of 4 (app2)"
    progress.line("ok: [app2]")
    assert progress.detail == "batch 2 of 4 (app2)"
    progress.line(
        banner(
            "Back into the pool, and drain the next batch's servers, recorded in the ledger (one call "
            "per load balancer) - batch 3 of 4 (app3, app4)"
        )
    )
    assert progress.detail == "batch 3 of 4 (app3, app4)"
    progress.line("PLAY [Zerodown deploy | smoke test and bake window through the load balancer] ****")
    assert (progress.phase, progress.detail) == ("smoke test and bake window through the load balancer", "")


def test_other_tasks_of_the_role_leave_the_batch_as_it_is(demo):
    progress = demo.Progress(load=None)
    progress.line(banner("Hook before the switch - batch 2 of 3 (app3)"))
    progress.line(banner("Drain the first batch's servers, recorded in the ledger first (one call per load balancer)"))
    assert progress.detail == "batch 2 of 3 (app3)"
