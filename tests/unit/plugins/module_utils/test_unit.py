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


# -- least privilege: the release read-only to the app, shared/ writable -----------------------------------------

SHARED = "/opt/shop/shared"


def service_lines(unit, writable=(SHARED,), working_directory="/opt/shop/current"):
    return render_unit("shop", working_directory, dict({"exec_start": "bin/start"}, **unit), writable).splitlines()


def test_the_unit_is_hardened_by_default_with_shared_writable():
    lines = service_lines({"user": "shop", "group": "shop"})
    hardening = [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "ReadWritePaths=/opt/shop/shared",
    ]
    start = lines.index(hardening[0])
    assert lines[start : start + len(hardening)] == hardening
    assert lines.index("[Service]") < start < lines.index("[Install]")


def test_each_hardening_directive_is_overridden_left_out_or_added():
    lines = service_lines(
        {
            "hardening": {
                "ProtectHome": "read-only",
                "PrivateTmp": None,
                "NoNewPrivileges": False,
                "ProtectKernelTunables": True,
                "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
                "ReadWritePaths": ["/var/spool/shop", "-/var/cache/shop", SHARED],
                "SystemCallFilter": ["@system-service", "~@privileged"],
            }
        }
    )
    assert "ProtectHome=read-only" in lines and "NoNewPrivileges=no" in lines
    assert not [line for line in lines if line.startswith("PrivateTmp=")]
    assert "ProtectSystem=strict" in lines and "ProtectKernelTunables=yes" in lines
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in lines
    assert "SystemCallFilter=@system-service ~@privileged" in lines
    # shared/ first, each path once
    assert [line for line in lines if line.startswith("ReadWritePaths=")] == [
        "ReadWritePaths=/opt/shop/shared /var/spool/shop -/var/cache/shop"
    ]


def test_the_hardening_defaults_are_in_one_place_and_documented_where_users_read_them():
    from pathlib import Path

    import yaml

    from ansible_collections.zerodown.deploy.plugins.module_utils._unit import HARDENING_DEFAULTS, HARDENING_DIRECTIVES
    from ansible_collections.zerodown.deploy.plugins.modules import release

    repo = Path(__file__).resolve().parents[4]
    spec = yaml.safe_load((repo / "roles/release/meta/argument_specs.yml").read_text())["argument_specs"]["main"]
    role_doc = " ".join(spec["options"]["zerodown_unit_hardening"]["description"])
    module_doc = yaml.safe_load(release.DOCUMENTATION)["options"]["unit"]["suboptions"]["hardening"]["description"]
    for directive, value in HARDENING_DEFAULTS.items():
        written = "C(%s=%s)" % (directive, {True: "yes", False: "no"}.get(value, value))
        assert written in role_doc and written in module_doc[0], written
    for directive in HARDENING_DIRECTIVES:
        assert "C(%s)" % directive in module_doc[2], directive


@pytest.mark.parametrize(
    "hardening, message",
    [
        ({"ProtectSytem": "strict"}, "unknown directive.*ProtectSytem"),
        ({"ProtectSystem": "strict\nExecStartPre=/bin/sh"}, "ProtectSystem"),
        ({"ReadWritePaths": ["relative/path"]}, "absolute paths"),
        ({"ReadWritePaths": ["/a b"]}, "one word"),
        ({"UMask": 0.5}, "UMask"),
        ({"ProtectHome": {"a": 1}}, "ProtectHome"),
    ],
)
def test_bad_hardening_is_named(hardening, message):
    with pytest.raises(ValueError, match=message):
        service_lines({"hardening": hardening})


def test_an_app_under_home_is_refused_while_protect_home_hides_it():
    with pytest.raises(ValueError, match="under /home, which ProtectHome=yes hides"):
        service_lines({}, writable=("/home/apps/shop/shared",), working_directory="/home/apps/shop/current")
    lines = service_lines(
        {"hardening": {"ProtectHome": "read-only"}},
        writable=("/home/apps/shop/shared",),
        working_directory="/home/apps/shop/current",
    )
    assert "ProtectHome=read-only" in lines and "ReadWritePaths=/home/apps/shop/shared" in lines


@pytest.mark.parametrize("key, bad", [("user", "sh op"), ("user", "1000"), ("group", "-x"), ("group", "a;b")])
def test_user_and_group_must_be_posix_names(key, bad):
    with pytest.raises(ValueError, match="unit.%s" % key):
        service_lines({key: bad})
