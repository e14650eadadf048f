"""The systemd unit the release module writes."""

from __future__ import annotations

import os

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._unit import (
    UnitWatch,
    read_unit,
    render_unit,
    validate_service,
    write_unit,
)


def test_the_unit_runs_current_and_stops_gracefully():
    text = render_unit(
        "shop",
        "/opt/shop/current",
        {
            "exec_start": 'python3 app.py --name "x" 50%',
            "user": "shop",
            "group": "shop",
            "port": 8080,
            "environment": {"B": "two words", "A": 'q"uote\\'},
            "environment_file": "/opt/shop/shared/env",
            "stop_timeout": 20,
        },
    )
    lines = text.splitlines()
    assert "WorkingDirectory=/opt/shop/current" in lines
    assert 'ExecStart=/bin/sh -c "exec python3 app.py --name \\"x\\" 50%%"' in lines
    assert "Environment=ZERODOWN_APP_PORT=8080" in lines
    assert "EnvironmentFile=-/opt/shop/shared/env" in lines
    assert lines.index('Environment="A=q\\"uote\\\\"') < lines.index('Environment="B=two words"')
    assert "KillSignal=SIGTERM" in lines and "TimeoutStopSec=20" in lines and "User=shop" in lines
    assert "Description=shop (zerodown.deploy)" in lines


@pytest.mark.parametrize(
    "unit, message",
    [
        ({"exec_start": ""}, "exec_start"),
        ({"exec_start": "a\nb"}, "exec_start"),
        ({"exec_start": "a", "user": "x\ny"}, "unit.user"),
        ({"exec_start": "a", "stop_timeout": 0}, "stop_timeout"),
        ({"exec_start": "a", "environment": {"BAD NAME": "1"}}, "BAD NAME"),
        ({"exec_start": "a", "environment": {"A": "x\ny"}}, "unit.environment.A"),
    ],
)
def test_bad_unit_values_are_named(unit, message):
    with pytest.raises(ValueError, match=message):
        render_unit("shop", "/opt/shop/current", unit)


@pytest.mark.parametrize("name", ["shop", "shop.service; rm -rf /", "../x.service", ""])
def test_service_names(name):
    with pytest.raises(ValueError):
        validate_service(name)
    assert validate_service("shop-1@a.service") == "shop-1@a.service"


def test_written_atomically_and_world_readable(tmp_path):
    path = str(tmp_path / "shop.service")
    assert read_unit(path) is None
    write_unit(path, "[Unit]\n")
    assert read_unit(path) == "[Unit]\n"
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["shop.service"]


# -- UnitWatch: a service that exits at start is known broken from systemd, not from the readiness timeout --------


class Systemd:
    """A runner answering ``systemctl show`` from a list of states (the last one repeats) and ``journalctl``."""

    def __init__(self, *states, journal="line one\nfatal: no key\n", rc=0):
        self.states = list(states)
        self.journal = journal
        self.rc = rc
        self.calls = []

    def __call__(self, args):
        self.calls.append(args)
        if args[0] == "journalctl":
            return 0, self.journal, ""
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return self.rc, "".join("%s=%s\n" % item for item in state.items()), ""


def props(active="active", sub="running", restarts=0, code="0", status="0", result="success"):
    return {
        "ActiveState": active,
        "SubState": sub,
        "Result": result,
        "ExecMainCode": code,
        "ExecMainStatus": status,
        "NRestarts": str(restarts),
        "MainPID": "42",
    }


def test_a_running_service_is_not_broken():
    watch = UnitWatch(Systemd(props(), props(sub="running")), "shop.service")
    assert watch() is None and watch() is None


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (
            props("failed", "failed", code="1", status="3", result="exit-code"),
            "failed/failed (result exit-code): its main process exited with status 3",
        ),
        (
            props("activating", "auto-restart", restarts=1, code="1", status="3", result="exit-code"),
            "activating/auto-restart",
        ),
        (
            props("inactive", "dead", code="1", status="0"),
            "inactive/dead (result success): its main process exited with status 0",
        ),
        (props("failed", "failed", code="2", status="9", result="signal"), "was killed by signal 9"),
    ],
)
def test_a_failed_stopped_or_restarting_unit_is_broken_with_status_and_journal(state, expected):
    runner = Systemd(state)
    reason = UnitWatch(runner, "shop.service")()
    assert reason.startswith("shop.service is ") and expected in reason
    assert reason.endswith("last journal lines: line one | fatal: no key")
    assert runner.calls[0][:3] == ["systemctl", "show", "shop.service"]


def test_a_crash_loop_between_two_looks_is_seen_from_the_restart_counter():
    runner = Systemd(props(restarts=0), props("activating", "start", restarts=2, code="1", status="3"))
    watch = UnitWatch(runner, "shop.service")
    assert watch() is None
    assert "systemd restarted it 2 time(s) since the start" in watch()


def test_no_answer_from_systemd_is_no_evidence():
    assert UnitWatch(Systemd(props("failed"), rc=1), "shop.service")() is None
    with pytest.raises(ValueError, match="give a systemd service name"):
        UnitWatch(Systemd(props()), "shop; reboot")
