"""The systemd unit the release module writes."""

from __future__ import annotations

import os

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._unit import (
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
