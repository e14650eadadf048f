"""The deploy report as a person sees it: the unit tests' recorded runs rendered by the callback's writer, opened
in headless Chromium (Debian's chromium), screenshot checked not blank, the DOM read back.

The molecule scenarios make the same checks on a real fleet run with the same helper:
``zerodown_testkit.support.report_browser.open_report(path)``.
"""

from __future__ import annotations

from zerodown_testkit.support import report_runs as runs
from zerodown_testkit.support.report_browser import open_report

from ansible_collections.zerodown.deploy.plugins.plugin_utils._report_html import PHASE_COLOURS

BATCH = ["stage", "drain", "stop", "switch", "start", "ready", "enable"]


def test_successful_rolling_run_in_chromium(tmp_path):
    view = open_report(runs.write("rolling_success", str(tmp_path)))
    assert view.hosts() == runs.APP_HOSTS  # one timeline row per host
    for host in runs.APP_HOSTS:
        assert view.phases(host) == BATCH, host
        assert view.failed_phases(host) == []
    assert view.outcome() == "succeeded" and view.cause() is None
    assert view.lb_states("app1") == ["ready", "drain", "ready"]
    assert view.screenshot.endswith(".png") and view.image.width == 1280
    for phase in ("stage", "drain", "ready", "enable"):
        assert view.image.has_colour(PHASE_COLOURS[phase]), phase  # painted, not only in the DOM
    assert not view.image.has_colour(PHASE_COLOURS["rollback"])


def test_rolled_back_run_in_chromium_shows_the_cause(tmp_path):
    view = open_report(runs.write("rolled_back", str(tmp_path)))
    assert view.hosts() == runs.APP_HOSTS
    assert view.outcome() == "rolled_back"
    assert view.cause() == runs.ROLLBACK_CAUSE
    assert view.phases("app1", rollback=False) == BATCH
    assert view.phases("app3", rollback=False) == BATCH[:-1] and view.failed_phases("app3") == ["ready"]
    for host in ("app1", "app2", "app3"):
        assert view.phases(host, rollback=True) == ["drain", "stop", "switch", "start", "ready", "enable"], host
    assert view.phases("app4") == ["stage"]
    assert view.image.has_colour(PHASE_COLOURS["rollback"])


def test_canary_and_migration_reports_render(tmp_path):
    canary = open_report(runs.write("canary_run", str(tmp_path)))
    assert canary.phases("app1").count("canary") == 2 and "10%" in canary.text("canary-steps")
    blocked = open_report(runs.write("migration_blocked", str(tmp_path)))
    assert "drop_column" in blocked.text("migration-findings") and blocked.outcome() == "failed"
