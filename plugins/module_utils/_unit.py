# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the systemd unit of an application.

The unit runs whatever release ``current`` points at, so it does not change
between releases; only a new command or setting changes it. It is written by
the release module in the same call that unpacks the release (one round trip
for the whole staging step), atomically, and systemd is reloaded only when its
text changed.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, Optional

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate

UNIT_DIR = "/etc/systemd/system"

#: The release module's ``unit`` option.
UNIT_SPEC: Dict[str, Any] = {
    "exec_start": {"type": "str", "required": True},
    "user": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
    "port": {"type": "int"},
    "environment": {"type": "dict", "default": {}},
    "environment_file": {"type": "str", "default": ""},
    "stop_timeout": {"type": "int", "default": 30},
    "description": {"type": "str"},
}


def _escape(value: Any) -> str:
    """A value inside a double-quoted systemd word: backslash, quote and the specifier character escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")


def validate_service(service: Any) -> str:
    return validate.name(service, "systemd_service", "service")


def render_unit(app: str, working_directory: str, unit: Dict[str, Any]) -> str:
    """The unit's text; raises ValueError naming a bad value."""
    exec_start = unit.get("exec_start")
    if not exec_start or "\n" in exec_start:
        raise ValueError(
            "unit.exec_start must be one command line (what the unit runs from current), got %r" % (exec_start,)
        )
    for key in ("user", "group", "environment_file", "description"):
        if "\n" in str(unit.get(key) or ""):
            raise ValueError("unit.%s must be one line, got %r" % (key, unit.get(key)))
    stop_timeout = validate.number(unit.get("stop_timeout", 30), "unit.stop_timeout", validate.WHOLE_SECONDS)
    if unit.get("port") is not None:
        validate.number(unit["port"], "unit.port", validate.PORT)
    lines = [
        '# Managed by zerodown.deploy: the unit runs whatever release "current" points at, so it',
        "# does not change between releases; only a new command or setting changes it.",
        "[Unit]",
        "Description=%s" % (unit.get("description") or "%s (zerodown.deploy)" % app),
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        "User=%s" % (unit.get("user") or "root"),
        "Group=%s" % (unit.get("group") or "root"),
        "WorkingDirectory=%s" % working_directory,
    ]
    if unit.get("port") is not None:
        lines.append("Environment=ZERODOWN_APP_PORT=%d" % int(unit["port"]))
    if unit.get("environment_file"):
        lines.append("EnvironmentFile=-%s" % unit["environment_file"])
    for name, value in sorted((unit.get("environment") or {}).items()):
        validate.name(name, "env_name", "unit.environment name")
        if "\n" in str(value):
            raise ValueError("unit.environment.%s must be one line" % name)
        lines.append('Environment="%s=%s"' % (name, _escape(value)))
    lines += [
        'ExecStart=/bin/sh -c "exec %s"' % _escape(exec_start),
        "# Graceful stop: SIGTERM to the app, which stops accepting and finishes",
        "# in-flight requests; SIGKILL only after TimeoutStopSec.",
        "KillSignal=SIGTERM",
        "KillMode=mixed",
        "TimeoutStopSec=%d" % stop_timeout,
        "Restart=on-failure",
        "RestartSec=1",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def read_unit(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_unit(path: str, text: str) -> None:
    """Atomically, root-owned 0644 (systemd reads it; only root may change what it runs)."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".zerodown-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
