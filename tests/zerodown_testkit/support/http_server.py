"""A real threaded HTTP(S) server for tests, driven by a handler function.

    def handler(req: Request) -> Response:
        return Response(200, {"X-App-Version": "2"}, b'{"status": "ok"}')

    with serve(handler) as srv:          # or serve(handler, tls=tls_material)
        srv.url                          # http://127.0.0.1:<ephemeral port>
        srv.requests                     # every Request seen, in order
        srv.in_flight                    # requests being answered right now

A Response may carry ``delay`` (seconds to wait before answering) to model
slow endpoints and in-flight requests. ``make_tls`` creates a throw-away CA
and a server certificate for 127.0.0.1/localhost with the openssl CLI.
"""

from __future__ import annotations

import http.server
import socketserver
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional


@dataclass
class Request:
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes
    at: float


@dataclass
class Response:
    status: int = 200
    headers: Dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


@dataclass
class TLSMaterial:
    ca_cert: Path
    cert: Path
    key: Path
    client_cert: Optional[Path] = None
    client_key: Optional[Path] = None


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class ServerHandle:
    def __init__(
        self,
        handler: Callable[[Request], Response],
        tls: Optional[TLSMaterial] = None,
        require_client_cert: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.requests: List[Request] = []
        self.in_flight = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - stdlib signature
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, self.path, dict(self.headers.items()), body, time.monotonic())
                with outer._lock:
                    outer.requests.append(req)
                    outer.in_flight += 1
                try:
                    resp = handler(req)
                    if resp.delay:
                        time.sleep(resp.delay)
                    self.send_response(resp.status)
                    headers = {"Content-Length": str(len(resp.body))}
                    headers.update(resp.headers)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(resp.body)
                finally:
                    with outer._lock:
                        outer.in_flight -= 1

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

        self._server = _Server((host, port), Handler)
        self.scheme = "http"
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls.cert), str(tls.key))
            if require_client_cert:
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(str(tls.ca_cert))
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return "%s://%s:%d" % (self.scheme, self.host, self.port)

    def start(self) -> ServerHandle:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> ServerHandle:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(
    handler: Callable[[Request], Response],
    tls: Optional[TLSMaterial] = None,
    require_client_cert: bool = False,
    port: int = 0,
    host: str = "127.0.0.1",
) -> ServerHandle:
    return ServerHandle(handler, tls=tls, require_client_cert=require_client_cert, port=port, host=host)


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_tls(directory: Path, hostnames=("localhost",), ips=("127.0.0.1",)) -> TLSMaterial:
    """Create a self-signed CA, a server certificate and a client certificate signed by it."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = d / "ca.key", d / "ca.pem"
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_cert),
        "-days",
        "2",
        "-subj",
        "/CN=zerodown test CA",
    )
    san = ",".join(["DNS:%s" % h for h in hostnames] + ["IP:%s" % i for i in ips])
    ext = d / "server.ext"
    ext.write_text("subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" % san)
    material = TLSMaterial(
        ca_cert=ca_cert,
        cert=d / "server.pem",
        key=d / "server.key",
        client_cert=d / "client.pem",
        client_key=d / "client.key",
    )
    for name, cn, extfile in (("server", "localhost", ext), ("client", "zerodown test client", None)):
        key, csr, cert = d / ("%s.key" % name), d / ("%s.csr" % name), d / ("%s.pem" % name)
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=%s" % cn)
        cmd = [
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca_cert),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-out",
            str(cert),
            "-days",
            "2",
        ]
        if extfile is not None:
            cmd += ["-extfile", str(extfile)]
        _openssl(*cmd)
    return material
