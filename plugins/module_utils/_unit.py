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
from typing import Any, Dict, List, Optional, Sequence

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
    "hardening": {"type": "dict", "default": {}},
}

#: systemd sandboxing every unit gets; ``unit.hardening`` (the role's zerodown_unit_hardening) is merged over it,
#: a directive set to null is left out. The release is read-only to the app (ProtectSystem=strict makes the whole
#: file system read-only); ReadWritePaths always holds shared/, plus any path given there.
HARDENING_DEFAULTS: Dict[str, Any] = {
    "NoNewPrivileges": True,
    "ProtectSystem": "strict",
    "ProtectHome": True,
    "PrivateTmp": True,
}
#: The directives ``unit.hardening`` may set: a misspelt one is refused here, where systemd would only warn.
HARDENING_DIRECTIVES = frozenset(
    """
    NoNewPrivileges ProtectSystem ProtectHome PrivateTmp PrivateDevices PrivateUsers PrivateNetwork PrivateIPC
    ProtectKernelTunables ProtectKernelModules ProtectKernelLogs ProtectControlGroups ProtectClock ProtectHostname
    ProtectProc ProcSubset RestrictSUIDSGID RestrictRealtime RestrictNamespaces RestrictAddressFamilies
    LockPersonality MemoryDenyWriteExecute RemoveIPC ReadWritePaths ReadOnlyPaths InaccessiblePaths
    CapabilityBoundingSet AmbientCapabilities SystemCallFilter SystemCallArchitectures UMask
    StateDirectory CacheDirectory LogsDirectory RuntimeDirectory
    """.split()
)
#: Directories ProtectHome hides (a mount namespace cannot make a path inside them writable again).
_HOME_DIRS = ("/home", "/root", "/run/user")
_PATH_LISTS = ("ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths")


def _escape(value: Any) -> str:
    """A value inside a double-quoted systemd word: backslash, quote and the specifier character escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")


def validate_service(service: Any) -> str:
    return validate.name(service, "systemd_service", "service")


def _word(value: Any, what: str) -> str:
    text = str(value)
    if not text or any(c.isspace() for c in text):
        raise ValueError("%s must be one word (no spaces or newlines), got %r" % (what, value))
    return text


def _hardening_value(directive: str, value: Any) -> str:
    what = "unit.hardening.%s" % directive
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        words = [_word(v, what) for v in value]
        if directive in _PATH_LISTS:
            for word in words:
                if not word.lstrip("-+").startswith("/"):
                    raise ValueError("%s takes absolute paths (optionally prefixed - or +), got %r" % (what, word))
        return " ".join(words)
    if isinstance(value, (dict, float)) or "\n" in str(value) or not str(value).strip():
        raise ValueError("%s must be yes/no, one line of text or a list, got %r" % (what, value))
    return str(value).strip()


def hardening_lines(working_directory: str, writable: Sequence[str], overrides: Optional[Dict[str, Any]]) -> List[str]:
    """The [Service] sandboxing lines: HARDENING_DEFAULTS with ``overrides`` merged over them, and ReadWritePaths
    holding ``writable`` (shared/) before any path the overrides add. Raises ValueError naming a bad directive."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - HARDENING_DIRECTIVES)
    if unknown:
        raise ValueError(
            "unit.hardening: unknown directive(s) %s; use one of %s"
            % (", ".join(unknown), ", ".join(sorted(HARDENING_DIRECTIVES)))
        )
    extra = overrides.pop("ReadWritePaths", None)
    if isinstance(extra, str):
        extra = extra.split()
    settings = dict(HARDENING_DEFAULTS, **overrides)
    protect_home = settings.get("ProtectHome")
    if protect_home not in (None, False, "no", "false", "read-only"):
        for home in _HOME_DIRS:
            if working_directory == home or working_directory.startswith(home + "/"):
                raise ValueError(
                    "the application lives under %s, which ProtectHome=%s hides from it; move zerodown_base_dir, "
                    "or set unit.hardening.ProtectHome (zerodown_unit_hardening) to read-only"
                    % (home, _hardening_value("ProtectHome", protect_home))
                )
    lines = []
    ordered = list(HARDENING_DEFAULTS) + sorted(k for k in settings if k not in HARDENING_DEFAULTS)
    for directive in ordered:
        if settings[directive] is not None:
            lines.append("%s=%s" % (directive, _hardening_value(directive, settings[directive])))
    paths = list(dict.fromkeys(list(writable) + list(extra or [])))
    if paths:
        lines.append("ReadWritePaths=%s" % _hardening_value("ReadWritePaths", paths))
    return lines


def render_unit(app: str, working_directory: str, unit: Dict[str, Any], writable: Sequence[str] = ()) -> str:
    """The unit's text; raises ValueError naming a bad value. ``writable``: the paths the app may write
    (shared/), every other one is read-only to it (ProtectSystem=strict, unless unit.hardening says otherwise)."""
    exec_start = unit.get("exec_start")
    if not exec_start or "\n" in exec_start:
        raise ValueError(
            "unit.exec_start must be one command line (what the unit runs from current), got %r" % (exec_start,)
        )
    for key in ("user", "group"):
        validate.name(unit.get(key) or "root", "posix_account", "unit.%s" % key)
    for key in ("environment_file", "description"):
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
        "# Least privilege (unit.hardening overrides each): the release is read-only to the app, shared/ is not.",
    ]
    lines += hardening_lines(working_directory, writable, unit.get("hardening"))
    lines += [
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


# -- a service that has just been started: is it already broken? -----------------------------------------------

#: ``systemctl show`` properties read by UnitWatch.
WATCH_PROPERTIES = ("ActiveState", "SubState", "Result", "ExecMainCode", "ExecMainStatus", "NRestarts", "MainPID")
#: ExecMainCode values (siginfo's CLD_* codes): how the main process ended.
_EXIT_CODES = {"1": "exited with status %s", "2": "was killed by signal %s", "3": "dumped core on signal %s"}
JOURNAL_LINES = 10


class UnitWatch:
    """Called while a just (re)started service is probed for readiness: why it cannot become ready, or None.

    A release whose process exits at start is not worth the whole readiness timeout: systemd already knows.
    Broken is: the unit failed (``ActiveState=failed``) or stopped (``inactive``), is waiting to be restarted
    (``SubState=auto-restart``), or was restarted by systemd since the first look (``NRestarts`` grew), which
    a ``Restart=on-failure`` crash loop between two looks would otherwise hide. The reason names the exit
    status (or signal) and the last lines the service wrote to the journal.
    """

    def __init__(self, runner, service: str, journal_lines: int = JOURNAL_LINES) -> None:
        self.runner = runner
        self.service = validate_service(service)
        self.journal_lines = journal_lines
        self.first: Optional[Dict[str, str]] = None

    def show(self) -> Optional[Dict[str, str]]:
        args = ["systemctl", "show", self.service, "--no-pager"]
        for name in WATCH_PROPERTIES:
            args += ["-p", name]
        rc, out, _err = self.runner(args)
        if rc != 0:
            return None  # no answer from systemd is no evidence: the probe goes on to its timeout
        props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return props if props.get("ActiveState") else None

    def journal(self) -> str:
        rc, out, _err = self.runner(
            ["journalctl", "-u", self.service, "-n", str(self.journal_lines), "--no-pager", "-o", "cat"]
        )
        lines = [line.rstrip() for line in out.splitlines() if line.strip()] if rc == 0 else []
        return " | ".join(lines[-self.journal_lines :]) or "(none)"

    def __call__(self) -> Optional[str]:
        props = self.show()
        if props is None:
            return None
        if self.first is None:
            self.first = props
        restarts = _count(props.get("NRestarts")) - _count(self.first.get("NRestarts"))
        state = "%s/%s" % (props.get("ActiveState"), props.get("SubState"))
        if props["ActiveState"] not in ("failed", "inactive") and props.get("SubState") != "auto-restart":
            if restarts <= 0:
                return None
        how = _EXIT_CODES.get(props.get("ExecMainCode", ""), "ended (code %s, status %%s)" % props.get("ExecMainCode"))
        return "%s is %s (result %s): its main process %s%s; last journal lines: %s" % (
            self.service,
            state,
            props.get("Result") or "unknown",
            how % props.get("ExecMainStatus", "?"),
            ", and systemd restarted it %d time(s) since the start" % restarts if restarts > 0 else "",
            self.journal(),
        )


def _count(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
