"""A stateful fake of HAProxy's runtime API at the text level, for unit tests of the modules.

``FakeHAProxy`` is a socket factory for ``HAProxyRuntime``: it answers ``show stat``, ``show servers state``,
``show info``, ``get weight``, ``set server .../... state``, ``set weight`` and ``shutdown sessions server`` the
way HAProxy does, keeps the servers' states, and records every line it was sent. So the real client code
(name checks, command batching, parsing) runs, and a test can assert what reached "HAProxy" and that nothing
changed.
"""

from __future__ import annotations

import copy
import socket
from typing import Dict, List

STATE_HEADER = (
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
    "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
    "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
    "srv_check_addr srv_agent_addr srv_agent_port"
)
STAT_FIELDS = (
    "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,"
    "lbtot,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,req_tot,cli_abrt,srv_abrt,rtime"
).split(",")
ADMIN = {"ready": 0, "drain": 8, "maint": 1}


class FakeHAProxy:
    """One fake HAProxy per address; ``fake(kind, target, timeout)`` is the socket factory."""

    def __init__(self, backend: str = "app", servers=("web1", "web2", "web3"), sessions: Dict[str, int] = None):
        self.backend = backend
        self.servers = {
            name: {"admin": 0, "weight": 10, "iweight": 10, "scur": (sessions or {}).get(name, 0)} for name in servers
        }
        self.lines: List[str] = []
        self.timeouts: List[float] = []

    def state(self) -> Dict[str, Dict[str, int]]:
        return copy.deepcopy(self.servers)

    def __call__(self, kind, target, timeout):
        # A real socket refuses what settimeout refuses (nan, inf, negative): so does the fake.
        probe = socket.socket()
        try:
            probe.settimeout(timeout)
        finally:
            probe.close()
        self.timeouts.append(timeout)
        return _Connection(self)

    # -- the protocol ----------------------------------------------------------------

    def answer(self, line: str) -> str:
        self.lines.append(line)
        return "".join(self._command(command.strip()) for command in line.split(";"))

    def _server(self, ref: str):
        backend, _slash, name = ref.partition("/")
        if backend != self.backend:
            return None, "No such backend.\n"
        if name not in self.servers:
            return None, "No such server.\n"
        return self.servers[name], ""

    def _command(self, command: str) -> str:
        words = command.split()
        if command.startswith("show servers state"):
            if len(words) > 3 and words[3] != self.backend:
                return "Can't find backend.\n"
            rows = [
                "3 %s %d %s 127.0.0.1 2 %d %d %d 5 1 0 2 0 0 0 0 - %d - 0 0 - - 0"
                % (self.backend, i, name, s["admin"], s["weight"], s["iweight"], 8000 + i)
                for i, (name, s) in enumerate(sorted(self.servers.items()), 1)
            ]
            return "1\n" + STATE_HEADER + "\n" + "\n".join(rows) + "\n\n"
        if command == "show stat":
            rows = ["# " + ",".join(STAT_FIELDS) + ","]
            for name, s in sorted(self.servers.items()):
                values = dict.fromkeys(STAT_FIELDS, "0")
                status = {0: "UP", 8: "DRAIN"}.get(s["admin"], "MAINT")
                values.update(pxname=self.backend, svname=name, scur=str(s["scur"]), status=status)
                values["weight"] = str(s["weight"])
                rows.append(",".join(values[f] for f in STAT_FIELDS) + ",")
            rows.append("%s,BACKEND,%s" % (self.backend, ",".join("0" for _field in STAT_FIELDS[2:])) + ",")
            return "\n".join(rows) + "\n\n"
        if command == "show info":
            return "Name: HAProxy\nPid: 100\nStart_time_sec: 1700000000\n"
        if len(words) == 5 and words[:2] == ["set", "server"] and words[3] == "state":
            server, error = self._server(words[2])
            if error:
                return error
            if words[4] not in ADMIN:
                return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"
            server["admin"] = ADMIN[words[4]]
            return ""
        if len(words) == 4 and words[:2] == ["set", "weight"]:
            server, error = self._server(words[2])
            if error:
                return error
            text = words[3]
            value = server["iweight"] * int(text[:-1]) // 100 if text.endswith("%") else int(text)
            server["weight"] = value
            return ""
        if len(words) == 3 and words[:2] == ["get", "weight"]:
            server, error = self._server(words[2])
            return error or "%d (initial %d)\n" % (server["weight"], server["iweight"])
        if len(words) == 4 and words[:3] == ["shutdown", "sessions", "server"]:
            server, error = self._server(words[3])
            if error:
                return error
            server["scur"] = 0
            return ""
        return "Unknown command: '%s'\n" % command


class _Connection:
    def __init__(self, fake: FakeHAProxy) -> None:
        self.fake = fake
        self.pending = b""

    def sendall(self, data: bytes) -> None:
        self.pending = self.fake.answer(data.decode("utf-8").rstrip("\n")).encode("utf-8")

    def recv(self, size: int) -> bytes:
        chunk, self.pending = self.pending[:size], self.pending[size:]
        return chunk

    def close(self) -> None:
        pass
