"""demoapp: the sample web application the zerodown test fleet deploys.

Python standard library only, plus psycopg2 (baked into the fleet rootfs)
for ``/db`` and, for the keep-alive server, Debian's python3-gunicorn. One
release = this file + ``release.json`` (version, server and the behaviour of
a test variant) + ``migrations/`` + ``VERSION``.

Endpoints (every response carries ``X-App-Version``):

    GET /               {"message": "hello", "version": ..., "host": ...}
    GET /version        {"version": ...}
    GET /health/ready   200 once the start-up delay has passed, 503 before and while stopping
    GET /health/live    200 while the process runs
    GET /slow?seconds=N answers after N seconds (in-flight requests for drain tests)
    GET /db             writes a row into ``visits`` and returns the row count
    GET /smoke          {"ok": true}: what a smoke test checks

Two servers answer the same endpoints (``server`` in ``release.json``):

* ``stdlib``: http.server, HTTP/1.0, one request per connection.
* ``gunicorn``: gunicorn's gthread worker with HTTP/1.1 keep-alive, what
  production Python apps run behind a load balancer that reuses server
  connections (HAProxy ``http-reuse always``, nginx upstream ``keepalive``).

Configuration: ``release.json`` beside the app, overridden by environment
variables (``DEMOAPP_PORT``, ``DEMOAPP_SERVER``, ``DEMOAPP_READY_DELAY``,
``DEMOAPP_DB_HOST``, ``DEMOAPP_DB_PORT``, ``DEMOAPP_DB_NAME``,
``DEMOAPP_DB_USER``, ``DEMOAPP_DB_PASSWORD``, ``DEMOAPP_STOP_DELAY``,
``DEMOAPP_ERROR_RATE``, ``DEMOAPP_ERROR_AFTER``, ``DEMOAPP_ADDED_LATENCY``).

Graceful stop, either server: on SIGTERM the app reports not-ready, (slow-stop
variant: keeps serving for ``stop_delay``), stops accepting, finishes the
requests in flight and exits 0. The stdlib server's main thread never blocks
in an untimed call, so the signal handler always runs promptly; gunicorn's
worker closes its idle keep-alive connections, and the connection of a request
in flight once it is answered.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = ("stdlib", "gunicorn")
# gunicorn's keep-alive outlives the load balancer's idle server connections (HAProxy's timeout server, nginx's
# upstream keepalive_timeout, both 60 s on the test fleet): the load balancer, not the app, closes an idle
# connection, so the app never closes one at the moment the load balancer sends a request on it. With the
# reverse (gunicorn's default is 2 s), requests fail as 502s with no deploy at all.
GUNICORN_KEEPALIVE = 75
GUNICORN_THREADS = 16


def load_config() -> dict:
    config = {
        "version": "unknown",
        "port": 8080,
        "server": "stdlib",
        "ready_delay": 1.0,
        "never_ready": False,
        "smoke_fail": False,
        "error_rate": 0.0,
        # seconds after becoming ready before error_rate applies (a release that goes bad after its smoke test)
        "error_after": 0.0,
        # exit at once with this status (a release that cannot start: a missing setting, a port taken)
        "exit_at_start": 0,
        "stop_delay": 0.0,
        # seconds added to every non-health answer (a release that is slower, not failing)
        "added_latency": 0.0,
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
        ("server", str),
        ("ready_delay", float),
        ("stop_delay", float),
        ("error_rate", float),
        ("error_after", float),
        ("added_latency", float),
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


def respond(app: App, path: str, query: str) -> tuple:
    """(status, JSON payload) for a GET of ``path``: the endpoints, whichever server asks."""
    if path == "/health/live":
        return 200, {"status": "alive", "version": app.version}
    if path == "/health/ready":
        if app.ready():
            return 200, {"status": "ready", "version": app.version}
        return 503, {"status": "stopping" if app.stopping else "starting", "version": app.version}
    if app.config["added_latency"] > 0:
        time.sleep(float(app.config["added_latency"]))
    if app.should_fail():
        return 500, {"error": "injected failure", "version": app.version}
    if path == "/":
        message = "broken" if app.config["smoke_fail"] else "hello"
        return 200, {"message": message, "version": app.version, "host": app.host}
    if path == "/version":
        return 200, {"version": app.version}
    if path == "/smoke":
        if app.config["smoke_fail"]:
            return 500, {"ok": False, "version": app.version, "reason": "smoke-fail variant"}
        return 200, {"ok": True, "version": app.version}
    if path == "/slow":
        try:
            seconds = float(parse_qs(query).get("seconds", ["1"])[0])
        except ValueError:
            return 400, {"error": "seconds must be a number", "version": app.version}
        seconds = max(0.0, min(seconds, 300.0))
        time.sleep(seconds)
        return 200, {"slept": seconds, "version": app.version, "host": app.host}
    if path == "/db":
        try:
            return 200, app.db_visit()
        except Exception as exc:  # noqa: BLE001 - any database failure is answered, with its reason
            return 503, {"error": "database: %s" % exc, "version": app.version}
    return 404, {"error": "not found: %s" % path, "version": app.version}


def make_handler(app: App):
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection (the gunicorn server is the keep-alive one).
        protocol_version = "HTTP/1.0"
        server_version = "demoapp"

        def log_message(self, format, *args):  # noqa: A002 - signature of the base class
            pass  # no access log: the load generator sends hundreds of requests a second

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            url = urlparse(self.path)
            status, payload = respond(app, url.path, url.query)
            body = (json.dumps(payload) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-App-Version", app.version)
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    return Handler


def make_wsgi(app: App):
    """The same endpoints as a WSGI application (for gunicorn)."""

    def wsgi(environ, start_response):
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            status, payload = 405, {"error": "method not allowed", "version": app.version}
        else:
            status, payload = respond(app, environ.get("PATH_INFO") or "/", environ.get("QUERY_STRING", ""))
        body = (json.dumps(payload) + "\n").encode()
        start_response(
            "%d %s" % (status, HTTPStatus(status).phrase),
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("X-App-Version", app.version),
            ],
        )
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    wsgi.app = app  # the worker's SIGTERM handler marks this app as stopping
    return wsgi


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


def serve_gunicorn(config: dict) -> int:
    """Serve with gunicorn: one gthread worker (so the failure variants' shares stay exact), keep-alive on."""
    from gunicorn.app.base import BaseApplication  # noqa: PLC0415 - only this server needs it

    version = str(config["version"])

    def when_ready(server) -> None:
        print(
            "demoapp %s listening on :%d (ready after %.1fs; gunicorn gthread, keep-alive %ds)"
            % (version, server.LISTENERS[0].getsockname()[1], config["ready_delay"], GUNICORN_KEEPALIVE),
            flush=True,
        )

    def post_worker_init(worker) -> None:
        app = worker.wsgi.app

        def on_term(signum, frame) -> None:
            if app.stopping:
                return
            app.stopping = True
            print("demoapp %s: signal %d, stopping" % (version, signum), flush=True)
            # gunicorn's own handler ends the worker's loop: it stops accepting, closes idle keep-alive
            # connections and waits for the requests in flight; the slow-stop variant serves on until then
            if config["stop_delay"] > 0:
                timer = threading.Timer(float(config["stop_delay"]), worker.handle_exit, (signum, None))
                timer.daemon = True
                timer.start()
            else:
                worker.handle_exit(signum, frame)

        signal.signal(signal.SIGTERM, on_term)

    def on_exit(server) -> None:
        print("demoapp %s: stopped" % version, flush=True)

    options = {
        "bind": ["0.0.0.0:%d" % int(config["port"])],
        "workers": 1,
        "worker_class": "gthread",
        "threads": GUNICORN_THREADS,
        "keepalive": GUNICORN_KEEPALIVE,
        # the arbiter's deadline after SIGTERM: the slow-stop delay, then the longest /slow request
        "graceful_timeout": int(float(config["stop_delay"])) + 310,
        "loglevel": "warning",
        "accesslog": None,
        "proc_name": "demoapp-" + version,
        "when_ready": when_ready,
        "post_worker_init": post_worker_init,
        "on_exit": on_exit,
    }

    class Gunicorn(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return make_wsgi(App(config))

    Gunicorn().run()  # exits the process when the arbiter stops
    return 0


def serve_stdlib(config: dict) -> int:
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


def main() -> int:
    config = load_config()
    if config["exit_at_start"]:
        print("demoapp %s: fatal: DEMOAPP_SECRET_KEY is not set, cannot start" % config["version"], file=sys.stderr)
        return int(config["exit_at_start"])
    if config["server"] not in SERVERS:
        print(
            "demoapp %s: fatal: server %r is not one of %s (release.json or DEMOAPP_SERVER)"
            % (config["version"], config["server"], ", ".join(SERVERS)),
            file=sys.stderr,
        )
        return 2
    if config["server"] == "gunicorn":
        return serve_gunicorn(config)
    return serve_stdlib(config)


if __name__ == "__main__":
    sys.exit(main())
