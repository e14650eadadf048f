"""Real HAProxy and nginx processes for the load-balancer tests and the drain bench.

Each instance runs as a child process with its own configuration, sockets
and pid file in a temporary directory, on ephemeral loopback ports; stop()
(always called by the fixtures) terminates it and waits for it.

Backends are real HTTP servers (http_server.py beside this file) that answer
``X-App-Version: <name>`` and sleep ``?delay=S`` seconds on ``/slow``, to
hold requests in flight. HAProxy is configured with ``retries 0`` and no
``option redispatch`` (and nginx with ``proxy_next_upstream off``) so that a
server going away under a request shows up as a failed request, not a hidden
retry. ``/pin/<server>/...`` is routed to that server (HAProxy
``use-server``), to put slow requests on the server a test drains.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import wait_until
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import HAProxyError, HAProxyRuntime
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.nginx_log import LOG_FORMAT_DIRECTIVE, LOG_FORMAT_NAME

from .http_server import Request, Response, ServerHandle, serve


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require(binary: str) -> str:
    path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/local/sbin:/sbin")
    if not path:
        raise RuntimeError(
            "%s is not installed: the load-balancer tests need a real %s (run scripts/ensure-host.sh as root, "
            "or apt-get install %s)" % (binary, binary, "haproxy" if binary == "haproxy" else "nginx-light")
        )
    return path


def app_handler(name: str):
    def handler(req: Request) -> Response:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(req.path).query)
        delay = float(query.get("delay", ["0"])[0]) if "/slow" in req.path else 0.0
        return Response(200, {"X-App-Version": name}, ("%s\n" % name).encode(), delay=delay)

    return handler


class Backends:
    """Named HTTP servers: ``backends["web1"].in_flight``, ``.port``, ``.requests``.

    ``addresses`` puts some on a given (loopback address, port), as two instance slots of one host listen on the
    host's address on two fixed ports (surge); the others take an ephemeral port on 127.0.0.1."""

    def __init__(self, names: Sequence[str], addresses: Optional[Dict[str, Tuple[str, int]]] = None) -> None:
        self.servers: Dict[str, ServerHandle] = {}
        for name in names:
            host, port = (addresses or {}).get(name, ("127.0.0.1", 0))
            server = serve(app_handler(name), host=host, port=port)
            # HAProxy resets idle server-side keep-alive connections; the stdlib
            # server would print a traceback for each. Not an error here.
            server._server.handle_error = lambda request, client_address: None
            self.servers[name] = server.start()

    def __getitem__(self, name: str) -> ServerHandle:
        return self.servers[name]

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


class HAProxyInstance:
    def __init__(
        self,
        directory: Path,
        backends: Backends,
        servers: Optional[Sequence[str]] = None,
        backend: str = "app",
        weight: int = 10,
        tcp_stats: bool = True,
        syslog: Optional[str] = None,
        backend_lines: Sequence[str] = (),
        server_options: Optional[Dict[str, str]] = None,
    ) -> None:
        """``syslog``: a UDP syslog address (127.0.0.1:port) HAProxy sends an httplog line of each request to.
        ``backend_lines`` go into the backend before its servers (``option httpchk``, ``default-server``), and
        ``server_options`` after a server's weight (``disabled``)."""
        self.binary = require("haproxy")
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.backend = backend
        self.port = free_port()
        self.socket = str(self.dir / "admin.sock")
        self.tcp_address = "127.0.0.1:%d" % free_port() if tcp_stats else None
        names = list(servers or backends.servers)
        lines = [
            "global",
            "    stats socket %s mode 600 level admin" % self.socket,
        ]
        if self.tcp_address:
            lines.append("    stats socket ipv4@%s level admin" % self.tcp_address)
        lines.append("    stats timeout 30s")
        if syslog:
            lines.append("    log %s local0" % syslog)
        lines += [
            "defaults",
            "    mode http",
            "    timeout connect 2s",
            "    timeout client 60s",
            "    timeout server 60s",
            # A retry or redispatch would hide a request that hit a server going away.
            "    retries 0",
        ]
        if syslog:
            lines += ["    log global", "    option httplog"]
        lines += [
            "frontend fe",
            "    bind 127.0.0.1:%d" % self.port,
            "    default_backend %s" % backend,
            "backend %s" % backend,
            "    balance roundrobin",
        ]
        lines += ["    %s" % line for line in backend_lines]
        for name in names:
            lines.append("    use-server %s if { path_beg /pin/%s/ }" % (name, name))
        for name in names:
            lines.append(
                "    server %s %s:%d weight %d %s"
                % (name, backends[name].host, backends[name].port, weight, (server_options or {}).get(name, ""))
            )
        lines.append("backend other")
        lines.append("    server o1 127.0.0.1:%d" % backends[names[0]].port)
        self.config = self.dir / "haproxy.cfg"
        self.config.write_text("\n".join(lines) + "\n")
        self.runtime = HAProxyRuntime(self.socket)
        self._start("w")

    def _start(self, log_mode: str) -> None:
        self.log = open(self.dir / "haproxy.log", log_mode)  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [self.binary, "-f", str(self.config), "-db"], stdout=self.log, stderr=subprocess.STDOUT
        )
        try:
            wait_until(self._ready, timeout=15, interval=0.05, description="haproxy runtime API")
        except Exception:
            self.stop()
            raise RuntimeError("haproxy did not start: %s" % (self.dir / "haproxy.log").read_text()) from None

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(
                "haproxy exited with %s: %s" % (self.proc.returncode, (self.dir / "haproxy.log").read_text())
            )
        try:
            self.runtime.show_servers_state()
            if self.tcp_address:
                HAProxyRuntime(self.tcp_address).show_servers_state()
            return True
        except HAProxyError:
            return False

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    def states(self, columns=("srv_op_state", "srv_admin_state", "srv_uweight", "srv_iweight")) -> Dict[str, tuple]:
        """The live ``show servers state`` of our backend, minus the clock column."""
        return {
            row["srv_name"]: tuple(row[c] for c in columns) for row in self.runtime.show_servers_state(self.backend)
        }

    def full_state(self) -> List[tuple]:
        """Every ``show servers state`` row, every column except srv_time_since_last_change."""
        return [
            tuple(v for k, v in sorted(row.items()) if k != "srv_time_since_last_change")
            for row in self.runtime.show_servers_state()
        ]

    def server(self, name: str) -> dict:
        return self.runtime.server(self.backend, name)

    def restart(self) -> None:
        """A new HAProxy process on the same configuration: its runtime server states are the configuration's."""
        self.stop()
        self._start("a")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def _ppid(proc_dir: Path) -> int:
    try:
        stat = (proc_dir / "stat").read_text()
    except OSError:
        return -1
    # the command name may contain spaces and parentheses: fields follow the last ')'
    return int(stat.rsplit(")", 1)[1].split()[1])


def canary_app(name: str = "canary", error_every: int = 0, delay: float = 0.0, bad: Optional[threading.Event] = None):
    """A new release for canary tests: every ``error_every``-th request answers 500 (with ``bad``, only once
    it is set: a release going bad later); every answer takes ``delay`` s."""
    counter = itertools.count(1)

    def handler(req: Request) -> Response:
        if error_every and (bad is None or bad.is_set()) and next(counter) % error_every == 0:
            return Response(500, {"X-App-Version": name}, b"boom\n")
        return Response(200, {"X-App-Version": name}, ("%s\n" % name).encode(), delay=delay)

    return handler


@contextlib.contextmanager
def canary_backends(baseline: Sequence[str], canary: str = "canary", **behaviour):
    """Real baseline backends and one canary backend (``canary_app(canary, **behaviour)``), stopped at the end."""
    backends = Backends(baseline)
    try:
        server = serve(canary_app(canary, **behaviour))
        server._server.handle_error = lambda request, client_address: None
        backends.servers[canary] = server.start()
        yield backends
    finally:
        backends.stop()


class NginxInstance:
    """nginx over ``backends`` (optionally with ``weights`` per backend name), writing the access log that
    canary_analysis reads (``access_log``, in the collection's log_format) and nothing else."""

    WORKERS = 2

    def __init__(
        self,
        directory: Path,
        backends: Backends,
        upstream: str = "app",
        weights: Optional[Dict[str, int]] = None,
        start: Optional[Tuple[List[str], Path]] = None,
        down: Sequence[str] = (),
    ) -> None:
        """``start``: (the -c/-p options, working directory) to start nginx with instead of an absolute
        ``-c nginx.conf -p directory``, as users start a second nginx by hand (relative paths). ``down``: backends
        whose server line starts out of the pool (``down``, as the provider writes maint)."""
        self.binary = require("nginx")
        self.dir = Path(directory)
        (self.dir / "tmp").mkdir(parents=True, exist_ok=True)
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.upstream = upstream
        self.pid_file = str(self.dir / "nginx.pid")
        self.servers_file = str(self.dir / ("%s.servers" % upstream))
        self.access_log = str(self.dir / "logs" / "zerodown-access.log")
        self.addresses = {name: "%s:%d" % (server.host, server.port) for name, server in backends.servers.items()}
        Path(self.servers_file).write_text(
            "".join(
                "server %s%s%s;%s\n"
                % (
                    a,
                    " weight=%d" % weights[n] if weights and n in weights else "",
                    " down" if n in down else "",
                    "  # zerodown: maint" if n in down else "",
                )
                for n, a in self.addresses.items()
            )
        )
        tmp = self.dir / "tmp"
        self.conf = str(self.dir / "nginx.conf")
        Path(self.conf).write_text(
            "worker_processes %d;\n"
            "pid %s;\n"
            "error_log %s/logs/error.log info;\n"
            "events { worker_connections 512; }\n"
            "http {\n"
            "    %s\n"
            # unbuffered: a request is in the log when its answer has gone
            "    access_log %s %s;\n"
            "    client_body_temp_path %s/body;\n"
            "    proxy_temp_path %s/proxy;\n"
            "    fastcgi_temp_path %s/fastcgi;\n"
            "    uwsgi_temp_path %s/uwsgi;\n"
            "    scgi_temp_path %s/scgi;\n"
            "    upstream %s {\n"
            "        include %s;\n"
            "    }\n"
            "    server {\n"
            "        listen 127.0.0.1:%d;\n"
            "        location / {\n"
            "            proxy_pass http://%s;\n"
            "            proxy_http_version 1.1;\n"
            '            proxy_set_header Connection "";\n'
            # Like HAProxy's retries 0: a failing server is a failed request, not a hidden retry.
            "            proxy_next_upstream off;\n"
            "            proxy_read_timeout 60s;\n"
            "        }\n"
            "    }\n"
            "}\n"
            % (
                self.WORKERS,
                self.pid_file,
                self.dir,
                LOG_FORMAT_DIRECTIVE,
                self.access_log,
                LOG_FORMAT_NAME,
                tmp,
                tmp,
                tmp,
                tmp,
                tmp,
                upstream,
                self.servers_file,
                self.port,
                upstream,
            )
        )
        self.log = open(self.dir / "nginx.out", "w")  # noqa: SIM115 - closed in stop()
        options, cwd = start or (["-c", self.conf, "-p", str(self.dir)], None)
        self.proc = subprocess.Popen(
            [self.binary, *options, "-g", "daemon off;"],
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(self._ready, timeout=15, interval=0.05, description="nginx listening")
        except Exception:
            self.stop()
            raise RuntimeError("nginx did not start: %s" % (self.dir / "nginx.out").read_text()) from None

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(
                "nginx exited with %s: %s" % (self.proc.returncode, (self.dir / "nginx.out").read_text())
            )
        if not Path(self.pid_file).exists():
            return False
        # Both workers forked: tests compare worker sets before and after a
        # module call, and a worker still being forked would look like a reload.
        children = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid(p) == self.proc.pid]
        if len(children) < self.WORKERS:
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    @property
    def module_args(self) -> dict:
        return {
            "provider": "nginx",
            "nginx": {
                "conf": self.conf,
                "servers_file": self.servers_file,
                "pid_file": self.pid_file,
                "binary": self.binary,
                "prefix": str(self.dir),
                "access_log": self.access_log,
            },
            "backend": self.upstream,
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


class SlowRequests:
    """Requests held in flight: ``n`` GETs of ``url`` in threads; each records status and end time."""

    def __init__(self, url: str, n: int, timeout: float = 60.0) -> None:
        self.url = url
        self.results: List[dict] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._one, args=(timeout,), daemon=True) for _index in range(n)]
        for thread in self._threads:
            thread.start()

    def _one(self, timeout: float) -> None:
        import http.client

        parts = urllib.parse.urlsplit(self.url)
        started = time.time()
        entry = {"started": started}
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
            conn.request(
                "GET", parts.path + ("?" + parts.query if parts.query else ""), headers={"Connection": "close"}
            )
            resp = conn.getresponse()
            resp.read()
            entry.update(status=resp.status, version=resp.getheader("X-App-Version"))
            conn.close()
        except Exception as exc:  # noqa: BLE001 - a killed request is a result here
            entry.update(status=None, error="%s: %s" % (type(exc).__name__, exc))
        entry["ended"] = time.time()
        with self._lock:
            self.results.append(entry)

    def join(self, timeout: float = 60.0) -> List[dict]:
        for thread in self._threads:
            thread.join(timeout)
        return self.results
