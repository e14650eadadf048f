"""demoapp: the sample web application the zerodown test fleet deploys.

Python standard library only, plus psycopg2 (baked into the fleet rootfs)
for ``/db``. One release = this file + ``release.json`` (version and the
behaviour of a test variant) + ``migrations/`` + ``VERSION``.

Endpoints (every response carries ``X-App-Version``):

    GET /               {"message": "hello", "version": ..., "host": ...}
    GET /version        {"version": ...}
    GET /health/ready   200 once the start-up delay has passed, 503 before and while stopping
    GET /health/live    200 while the process runs
    GET /slow?seconds=N answers after N seconds (in-flight requests for drain tests)
    GET /db             writes a row into ``visits`` and returns the row count
    GET /smoke          {"ok": true}: what a smoke test checks

Configuration: ``release.json`` beside the app, overridden by environment
variables (``DEMOAPP_PORT``, ``DEMOAPP_READY_DELAY``, ``DEMOAPP_DB_HOST``,
``DEMOAPP_DB_PORT``, ``DEMOAPP_DB_NAME``, ``DEMOAPP_DB_USER``,
``DEMOAPP_DB_PASSWORD``, ``DEMOAPP_STOP_DELAY``, ``DEMOAPP_ERROR_RATE``).

Graceful stop: on SIGTERM the app reports not-ready, (slow-stop variant:
waits), stops accepting, finishes the requests in flight and exits 0. The
main thread never blocks in an untimed call, so the signal handler always
runs promptly (see design.md, section 8).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HERE = os.path.dirname(os.path.abspath(__file__))


def load_config() -> dict:
    config = {
        "version": "unknown",
        "port": 8080,
        "ready_delay": 1.0,
        "never_ready": False,
        "smoke_fail": False,
        "error_rate": 0.0,
        # seconds after becoming ready before error_rate applies (a release that goes bad after its smoke test)
        "error_after": 0.0,
        # exit at once with this status (a release that cannot start: a missing setting, a port taken)
        "exit_at_start": 0,
        "stop_delay": 0.0,
        "db_host": "db1",
        "db_port": 5432,
        "db_name": "demoapp",
        "db_user": "demoapp",
        "db_password": "",
        "db_write_note": False,
    }
    for candidate in (os.path.join(HERE, "release.json"), os.path.join(HERE, "..", "release.json")):
        if os.path.exists(candidate):
            with open(candidate) as handle:
                config.update(json.load(handle))
            break
    version_file = os.path.join(HERE, "..", "VERSION")
    if os.path.exists(version_file):
        with open(version_file) as handle:
            config["version"] = handle.read().strip()
    for key, cast in (
        ("port", int),
        ("ready_delay", float),
        ("stop_delay", float),
        ("error_rate", float),
        ("error_after", float),
        ("db_host", str),
        ("db_port", int),
        ("db_name", str),
        ("db_user", str),
        ("db_password", str),
    ):
        value = os.environ.get("DEMOAPP_" + key.upper())
        if value not in (None, ""):
            config[key] = cast(value)
    return config


class App:
    def __init__(self, config: dict) -> None:
        self.config = config
        self.version = str(config["version"])
        self.started = time.monotonic()
        self.stopping = False
        self.lock = threading.Lock()
        self.requests = 0
        self.host = socket.gethostname()

    def ready(self) -> bool:
        if self.stopping or self.config["never_ready"]:
            return False
        return time.monotonic() - self.started >= self.config["ready_delay"]

    def should_fail(self) -> bool:
        """Deterministic share of failures: exactly ``error_rate`` of requests, evenly spread."""
        rate = self.config["error_rate"]
        if rate <= 0:
            return False
        if time.monotonic() - self.started < self.config["ready_delay"] + self.config["error_after"]:
            return False
        with self.lock:
            self.requests += 1
            n = self.requests
        return int(n * rate) > int((n - 1) * rate)

    def db_visit(self) -> dict:
        try:  # psycopg2 is baked into the fleet rootfs; psycopg 3 works the same for this
            import psycopg2 as driver
        except ImportError:
            import psycopg as driver

        conn = driver.connect(
            host=self.config["db_host"],
            port=self.config["db_port"],
            dbname=self.config["db_name"],
            user=self.config["db_user"],
            password=self.config["db_password"],
            connect_timeout=5,
        )
        try:
            with conn, conn.cursor() as cur:
                if self.config["db_write_note"]:
                    # the column the v2 migration adds; v1 never touches it
                    cur.execute(
                        "INSERT INTO visits (host, version, note) VALUES (%s, %s, %s)",
                        (self.host, self.version, "written by " + self.version),
                    )
                else:
                    cur.execute("INSERT INTO visits (host, version) VALUES (%s, %s)", (self.host, self.version))
                cur.execute("SELECT count(*) FROM visits")
                count = cur.fetchone()[0]
        finally:
            conn.close()
        return {"visits": count, "version": self.version, "host": self.host}


def make_handler(app: App):
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so stopping never races an idle keep-alive connection.
        protocol_version = "HTTP/1.0"
        server_version = "demoapp"

        def log_message(self, format, *args):  # noqa: A002 - signature of the base class
            pass  # no access log: the load generator sends hundreds of requests a second

        def send_json(self, status: int, payload: dict) -> None:
            body = (json.dumps(payload) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-App-Version", app.version)
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            url = urlparse(self.path)
            path = url.path
            if path == "/health/live":
                return self.send_json(200, {"status": "alive", "version": app.version})
            if path == "/health/ready":
                if app.ready():
                    return self.send_json(200, {"status": "ready", "version": app.version})
                state = "stopping" if app.stopping else "starting"
                return self.send_json(503, {"status": state, "version": app.version})
            if app.should_fail():
                return self.send_json(500, {"error": "injected failure", "version": app.version})
            if path == "/":
                message = "broken" if app.config["smoke_fail"] else "hello"
                return self.send_json(200, {"message": message, "version": app.version, "host": app.host})
            if path == "/version":
                return self.send_json(200, {"version": app.version})
            if path == "/smoke":
                if app.config["smoke_fail"]:
                    return self.send_json(500, {"ok": False, "version": app.version, "reason": "smoke-fail variant"})
                return self.send_json(200, {"ok": True, "version": app.version})
            if path == "/slow":
                try:
                    seconds = float(parse_qs(url.query).get("seconds", ["1"])[0])
                except ValueError:
                    return self.send_json(400, {"error": "seconds must be a number", "version": app.version})
                seconds = max(0.0, min(seconds, 300.0))
                time.sleep(seconds)
                return self.send_json(200, {"slept": seconds, "version": app.version, "host": app.host})
            if path == "/db":
                try:
                    return self.send_json(200, app.db_visit())
                except Exception as exc:  # noqa: BLE001 - any database failure is answered, with its reason
                    return self.send_json(503, {"error": "database: %s" % exc, "version": app.version})
            return self.send_json(404, {"error": "not found: %s" % path, "version": app.version})

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the request threads: in-flight requests finish
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:
        # HAProxy closes its health-check connections with a reset; not an error of ours.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def main() -> int:
    config = load_config()
    if config["exit_at_start"]:
        print("demoapp %s: fatal: DEMOAPP_SECRET_KEY is not set, cannot start" % config["version"], file=sys.stderr)
        return int(config["exit_at_start"])
    app = App(config)
    server = Server(("0.0.0.0", int(config["port"])), make_handler(app))  # noqa: S104 - it serves the fleet network
    stop = []

    def on_signal(signum, frame):
        stop.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="serve")
    serving.start()
    print(
        "demoapp %s listening on :%d (ready after %.1fs)"
        % (app.version, server.server_address[1], config["ready_delay"]),
        flush=True,
    )
    # Short slices, never an untimed wait: the handler runs between them.
    while not stop:
        time.sleep(0.1)
    app.stopping = True
    print("demoapp %s: signal %d, stopping" % (app.version, stop[0]), flush=True)
    deadline = time.monotonic() + float(config["stop_delay"])
    while time.monotonic() < deadline:  # the slow-stop variant keeps serving for a while
        time.sleep(0.1)
    server.shutdown()  # from the main thread; serve_forever runs in `serving`
    serving.join()
    server.server_close()  # closes the listener, then joins every request thread
    print("demoapp %s: stopped" % app.version, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
