# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: HAProxy runtime API client.

``HAProxyRuntime(address)`` talks to HAProxy's stats socket (``stats socket
... level admin``) in non-interactive mode: one connection per command batch,
HAProxy answers and closes. ``address`` is a unix socket path
(``/run/haproxy/admin.sock``, optionally prefixed ``unix:``) or ``host:port``
(``127.0.0.1:9999``, ``[::1]:9999``).

Every backend and server name is checked against ``[A-Za-z0-9_.:-]`` before
it is put in a command: the runtime API separates commands with ``;`` and
newlines, so a name such as ``web1;shutdown sessions ...`` could otherwise
run a second command.

Used by drain_backend, switch_traffic, the load-balancer provider
(``lb/core.py``) and the tests' load generator (counters snapshots). Knows
nothing of AnsibleModule.
"""

from __future__ import annotations

import csv
import io
import re
import socket
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate

SERVER_STATES = ("ready", "drain", "maint")
MAX_WEIGHT = 256

# srv_admin_state bits (HAProxy include/haproxy/server-t.h, SRV_ADMF_*).
ADMF_FMAINT = 0x01  # forced maintenance (runtime API)
ADMF_IMAINT = 0x02  # inherited maintenance (tracked server)
ADMF_CMAINT = 0x04  # maintenance from the configuration (`disabled`)
ADMF_FDRAIN = 0x08  # forced drain (runtime API)
ADMF_IDRAIN = 0x10  # inherited drain
ADMF_RMAINT = 0x20  # maintenance because DNS resolution failed
ADMF_HMAINT = 0x40  # maintenance because the hostname changed
ADMF_MAINT = ADMF_FMAINT | ADMF_IMAINT | ADMF_CMAINT | ADMF_RMAINT | ADMF_HMAINT
ADMF_DRAIN = ADMF_FDRAIN | ADMF_IDRAIN

# srv_op_state values (SRV_ST_*).
OP_STATES = {0: "stopped", 1: "starting", 2: "running", 3: "stopping"}

# Per-server counters a load test cares about: a retry or a redispatch means
# a request hit a server that was going away, even if the client saw a 200.
COUNTER_FIELDS = ("stot", "wretr", "wredis", "hrsp_5xx", "econ", "eresp", "cli_abrt", "srv_abrt")


class HAProxyError(Exception):
    """Base class for every error raised by this module."""


class HAProxyNameError(HAProxyError, ValueError):
    """A backend/server name or a command is unsafe to send to the runtime API."""


class HAProxyValueError(HAProxyError, ValueError):
    """A state or weight outside what HAProxy accepts."""


class HAProxyConnectionError(HAProxyError):
    """The runtime API could not be reached (no socket, refused, timed out)."""


class HAProxyCommandError(HAProxyError):
    """HAProxy answered a command with an error message."""

    def __init__(self, message: str, command: str = "", response: str = "") -> None:
        super().__init__(message)
        self.command = command
        self.response = response


class HAProxyNotFoundError(HAProxyCommandError):
    """The backend or server does not exist in this HAProxy."""


def validate_name(value: Any, what: str = "name") -> str:
    """Return ``value`` if it is a safe backend/server name, else raise HAProxyNameError."""
    return validate.name(value, "lb", what, HAProxyNameError)


def validate_state(state: Any) -> str:
    if state not in SERVER_STATES:
        raise HAProxyValueError("invalid server state %r: use one of %s" % (state, ", ".join(SERVER_STATES)))
    return state


def normalize_weight(weight: Any) -> str:
    """Return the weight as HAProxy expects it: ``"0".."256"`` or ``"0%".."100%"``.

    A percentage is relative to the server's initial (configured) weight,
    which is HAProxy's own meaning of ``set weight b/s N%``.
    """
    percent = isinstance(weight, str) and weight.strip().endswith("%")
    number = validate.number(
        weight.strip()[:-1] if percent else weight,
        "weight",
        _PERCENT_WEIGHT if percent else _WEIGHT,
        error=lambda message: HAProxyValueError("invalid %s" % message),
    )
    return "%d%%" % number if percent else str(number)


_WEIGHT = validate.Limit(
    0, MAX_WEIGHT, unit="", integer=True, expect="an integer 0-%d or a percentage '0%%'-'100%%'" % MAX_WEIGHT
)
_PERCENT_WEIGHT = validate.Limit(0, 100, unit="", integer=True, expect="a percentage '0%'-'100%' (digits 0-9)")


def parse_address(address: str) -> Tuple[str, Any]:
    """Return ``("unix", path)`` or ``("tcp", (host, port))`` for an address string."""
    if not isinstance(address, str) or not address.strip():
        raise HAProxyValueError("invalid runtime API address %r: give a unix socket path or host:port" % (address,))
    address = address.strip()
    if address.startswith("unix:"):
        return "unix", address[5:]
    for prefix in ("tcp:", "ipv4@", "ipv6@"):
        if address.startswith(prefix):
            address = address[len(prefix) :]
            break
    else:
        if "/" in address:
            return "unix", address
    match = re.fullmatch(r"\[(?P<host>[0-9A-Fa-f:.]+)\]:(?P<port>[0-9]+)", address) or re.fullmatch(
        r"(?P<host>[A-Za-z0-9_.-]+):(?P<port>[0-9]+)", address
    )
    if not match:
        return "unix", address
    port = int(match.group("port"))
    if not 0 < port < 65536:
        raise HAProxyValueError("invalid runtime API address %r: port must be 1-65535" % (address,))
    return "tcp", (match.group("host"), port)


def _coerce(value: str) -> Any:
    """Counters come as decimal strings; turn those into ints, keep the rest."""
    if value.isdigit() or (value.startswith("-") and value[1:].isdigit()):
        return int(value)
    return value


def parse_stat_csv(text: str) -> List[Dict[str, Any]]:
    """Parse ``show stat`` CSV: the header line starts with ``# ``."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        raise HAProxyCommandError("unexpected 'show stat' answer: %r" % (text[:200],), "show stat", text)
    header = lines[0][2:].rstrip(",").split(",")
    rows = []
    for values in csv.reader(io.StringIO("\n".join(lines[1:]))):
        row = {key: _coerce(values[i]) if i < len(values) else "" for i, key in enumerate(header)}
        rows.append(row)
    return rows


def parse_servers_state(text: str) -> List[Dict[str, Any]]:
    """Parse ``show servers state``: a version line, a ``# ``-header, space-separated rows."""
    lines = [line for line in text.splitlines() if line.strip()]
    header: Optional[List[str]] = None
    rows = []
    for line in lines:
        if line.startswith("#"):
            header = line.lstrip("#").split()
            continue
        if header is None:
            continue  # the format version line ("1")
        values = line.split()
        rows.append({key: _coerce(values[i]) if i < len(values) else "" for i, key in enumerate(header)})
    if header is None:
        raise HAProxyCommandError(
            "unexpected 'show servers state' answer: %r" % (text[:200],), "show servers state", text
        )
    return rows


def parse_info(text: str) -> Dict[str, str]:
    """Parse ``show info``: one ``Key: value`` per line (Pid, Start_time_sec, Uptime_sec, Version, ...)."""
    info: Dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            info[key.strip()] = value.strip()
    if "Pid" not in info:
        raise HAProxyCommandError("unexpected 'show info' answer: %r" % (text[:200],), "show info", text)
    return info


def process_of(info: Dict[str, str]) -> Dict[str, int]:
    """What tells one HAProxy process from the next (a reload or restart starts a new one): ``show info``'s
    ``Pid`` and ``Start_time_sec`` (0 where this HAProxy does not say)."""
    out = {}
    for key, field in (("pid", "Pid"), ("started", "Start_time_sec")):
        try:
            out[key] = int(info.get(field) or 0)
        except (TypeError, ValueError):
            out[key] = 0
    return out


def admin_state_name(admin_state: int) -> str:
    """ready / drain / maint from the srv_admin_state bit field (maint wins over drain)."""
    if admin_state & ADMF_MAINT:
        return "maint"
    if admin_state & ADMF_DRAIN:
        return "drain"
    return "ready"


def server_counters(rows: Iterable[Dict[str, Any]], backend: Optional[str] = None) -> Dict[str, Dict[str, int]]:
    """Per-server counters (``backend/server`` -> {wretr, wredis, hrsp_5xx, ...}) from ``show stat`` rows."""
    out: Dict[str, Dict[str, int]] = {}
    for row in rows:
        if row.get("svname") in ("FRONTEND", "BACKEND") or (backend and row.get("pxname") != backend):
            continue
        out["%s/%s" % (row.get("pxname"), row.get("svname"))] = {
            key: row.get(key) if isinstance(row.get(key), int) else 0 for key in COUNTER_FIELDS
        }
    return out


SocketFactory = Callable[[str, Any, float], socket.socket]


def _default_socket_factory(kind: str, target: Any, timeout: float) -> socket.socket:
    if kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(target)
        except BaseException:
            sock.close()
            raise
        return sock
    return socket.create_connection(target, timeout=timeout)


class HAProxyRuntime:
    """Client for one HAProxy's runtime API (stats socket at admin level for changes).

    ``socket_factory(kind, target, timeout)`` returns a connected socket; tests
    pass a fake. Each call opens one connection: HAProxy's non-interactive
    mode answers one line of commands and closes.
    """

    def __init__(self, address: str, timeout: float = 5.0, socket_factory: Optional[SocketFactory] = None) -> None:
        self.address = address
        self.kind, self.target = parse_address(address)
        self.timeout = timeout
        self._socket_factory = socket_factory or _default_socket_factory

    def __repr__(self) -> str:
        return "HAProxyRuntime(%r)" % (self.address,)

    # -- low level -----------------------------------------------------------------

    @staticmethod
    def check_command(command: str) -> str:
        if not isinstance(command, str) or not command.strip():
            raise HAProxyNameError("empty runtime API command")
        bad = [c for c in (";", "\n", "\r", "\x00") if c in command]
        if bad:
            raise HAProxyNameError(
                "refusing runtime API command %r: it contains %s, which would start another command"
                % (command, ", ".join(repr(c) for c in bad))
            )
        return command

    def _send(self, line: str) -> str:
        try:
            sock = self._socket_factory(self.kind, self.target, self.timeout)
        except (OSError, socket.timeout) as exc:
            raise HAProxyConnectionError(
                "cannot reach the HAProxy runtime API at %s: %s (is HAProxy running with "
                "'stats socket %s level admin'?)" % (self.address, exc, self.address)
            ) from exc
        try:
            sock.sendall((line + "\n").encode("utf-8"))
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except (OSError, socket.timeout) as exc:
            raise HAProxyConnectionError("HAProxy runtime API at %s: %s" % (self.address, exc)) from exc
        finally:
            sock.close()
        return b"".join(chunks).decode("utf-8", "replace")

    def execute(self, command: str) -> str:
        """Send one command (validated: no ``;``/newline) and return HAProxy's raw answer."""
        return self._send(self.check_command(command))

    def execute_batch(self, commands: List[str]) -> str:
        """Send several validated commands in one connection, so HAProxy applies them back to back.

        Meant for commands that answer nothing on success (``set server``,
        ``set weight``); the returned text is the concatenated answers, empty
        when every command succeeded.
        """
        if not commands:
            return ""
        return self._send("; ".join(self.check_command(c) for c in commands))

    def _expect_silent(self, command: str) -> None:
        """Run a command that prints nothing on success; any text is an error."""
        answer = self.execute(command).strip()
        if answer:
            raise self._error(command, answer)

    def _error(self, command: str, answer: str) -> HAProxyCommandError:
        lower = answer.lower()
        cls = HAProxyNotFoundError if ("no such" in lower or "can't find" in lower) else HAProxyCommandError
        return cls("HAProxy at %s refused %r: %s" % (self.address, command, answer.strip()), command, answer)

    # -- reads -----------------------------------------------------------------------

    def show_stat(self, backend: Optional[str] = None) -> List[Dict[str, Any]]:
        """``show stat`` rows as dicts (numbers as int); only ``backend``'s rows if given."""
        text = self.execute("show stat")
        rows = parse_stat_csv(text)
        if backend is not None:
            validate_name(backend, "backend")
            rows = [r for r in rows if r.get("pxname") == backend]
        return rows

    def show_info(self) -> Dict[str, str]:
        """``show info`` as a dict of strings; ``Pid`` and ``Start_time_sec`` tell one HAProxy process from the next."""
        return parse_info(self.execute("show info"))

    def show_servers_state(self, backend: Optional[str] = None) -> List[Dict[str, Any]]:
        """``show servers state [backend]`` rows as dicts (be_name, srv_name, srv_admin_state, srv_uweight, ...)."""
        command = "show servers state"
        if backend is not None:
            command += " " + validate_name(backend, "backend")
        text = self.execute(command)
        if text.strip() and not text.lstrip().startswith(("1", "#")):
            raise self._error(command, text)
        return parse_servers_state(text)

    def backends(self) -> Dict[str, List[str]]:
        """Backend name -> its server names, in configuration order."""
        out: Dict[str, List[str]] = {}
        for row in self.show_servers_state():
            out.setdefault(row["be_name"], []).append(row["srv_name"])
        return out

    def servers(self, backend: Optional[str] = None) -> Dict[Tuple[str, str], Dict[str, Any]]:
        """(backend, server) -> info dict; one ``show servers state`` and one ``show stat`` round trip."""
        if backend is not None:
            validate_name(backend, "backend")
        states = self.show_servers_state()
        stats = {(r["pxname"], r["svname"]): r for r in self.show_stat()}
        out: Dict[Tuple[str, str], Dict[str, Any]] = {}
        for row in states:
            if backend is not None and row["be_name"] != backend:
                continue
            key = (row["be_name"], row["srv_name"])
            out[key] = self._info(row, stats.get(key, {}))
        if backend is not None and not any(k[0] == backend for k in out):
            if not any(r["pxname"] == backend and r["svname"] == "BACKEND" for r in stats.values()):
                raise HAProxyNotFoundError(
                    "HAProxy at %s has no backend %r (backends: %s)"
                    % (self.address, backend, ", ".join(sorted(self.backends())) or "none")
                )
        return out

    def server(self, backend: str, name: str) -> Dict[str, Any]:
        """Info about one server: state (ready/drain/maint), weight, initial_weight, scur, qcur, status, ..."""
        validate_name(backend, "backend")
        validate_name(name, "server")
        servers = self.servers(backend)
        if (backend, name) not in servers:
            raise HAProxyNotFoundError(
                "HAProxy at %s has no server %r in backend %r (servers: %s)"
                % (self.address, name, backend, ", ".join(server for _be, server in sorted(servers)) or "none")
            )
        return servers[(backend, name)]

    def sessions(self, backend: str, names: Iterable[str]) -> Dict[str, Dict[str, int]]:
        """{server: {scur, qcur}} for the given servers of one backend, from one ``show stat``."""
        validate_name(backend, "backend")
        wanted = {validate_name(n, "server") for n in names}
        out = {}
        for row in self.show_stat():
            if row.get("pxname") == backend and row.get("svname") in wanted:
                out[row["svname"]] = {"scur": _int(row.get("scur")), "qcur": _int(row.get("qcur"))}
        missing = wanted - set(out)
        if missing:
            raise HAProxyNotFoundError(
                "HAProxy at %s: no server %s in backend %r" % (self.address, ", ".join(sorted(missing)), backend)
            )
        return out

    @staticmethod
    def _info(state_row: Dict[str, Any], stat_row: Dict[str, Any]) -> Dict[str, Any]:
        admin = _int(state_row.get("srv_admin_state"))
        op = _int(state_row.get("srv_op_state"))
        return {
            "backend": state_row["be_name"],
            "server": state_row["srv_name"],
            "address": "%s:%s" % (state_row.get("srv_addr"), state_row.get("srv_port")),
            "state": admin_state_name(admin),
            "admin_state": admin,
            "operational_state": OP_STATES.get(op, str(op)),
            "weight": _int(state_row.get("srv_uweight")),
            "initial_weight": _int(state_row.get("srv_iweight")),
            "status": stat_row.get("status", ""),
            "scur": _int(stat_row.get("scur")),
            "qcur": _int(stat_row.get("qcur")),
        }

    def get_weight(self, backend: str, server: str) -> Tuple[int, int]:
        """(current, initial) weight via ``get weight``."""
        command = "get weight %s/%s" % (validate_name(backend, "backend"), validate_name(server, "server"))
        answer = self.execute(command).strip()
        match = re.match(r"^(\d+) \(initial (\d+)\)$", answer)
        if not match:
            raise self._error(command, answer)
        return int(match.group(1)), int(match.group(2))

    # -- changes ---------------------------------------------------------------------

    @staticmethod
    def state_command(backend: str, server: str, state: str) -> str:
        return "set server %s/%s state %s" % (
            validate_name(backend, "backend"),
            validate_name(server, "server"),
            validate_state(state),
        )

    @staticmethod
    def weight_command(backend: str, server: str, weight: Union[int, str]) -> str:
        return "set weight %s/%s %s" % (
            validate_name(backend, "backend"),
            validate_name(server, "server"),
            normalize_weight(weight),
        )

    def set_server_state(self, backend: str, server: str, state: str) -> None:
        self._expect_silent(self.state_command(backend, server, state))

    def set_weight(self, backend: str, server: str, weight: Union[int, str]) -> None:
        self._expect_silent(self.weight_command(backend, server, weight))

    def shutdown_sessions(self, backend: str, server: str) -> None:
        """Kill every session currently attached to the server (``shutdown sessions server b/s``)."""
        self._expect_silent(
            "shutdown sessions server %s/%s" % (validate_name(backend, "backend"), validate_name(server, "server"))
        )

    def apply(self, commands: List[str]) -> None:
        """Apply pre-built ``set ...`` commands in one connection; raise if HAProxy objected to any."""
        answer = self.execute_batch(commands).strip()
        if answer:
            raise self._error("; ".join(commands), answer)

    def counters(self, backend: Optional[str] = None) -> Dict[str, Dict[str, int]]:
        """Per-server counters (wretr, wredis, hrsp_5xx, econ, eresp, ...) keyed ``backend/server``."""
        return server_counters(self.show_stat(), backend)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0
