"""Each request's response time from a real HAProxy's httplog lines, sent over UDP syslog to a file, as rsyslog does."""

from __future__ import annotations

import contextlib
import socket
import threading
import urllib.request

from zerodown_testkit.support.lbharness import HAProxyInstance

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import wait_until
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import haproxy_log


class SyslogFile:
    """A UDP syslog receiver that appends each datagram as one line to ``path`` (what rsyslog does, minus the
    rewriting of the header): HAProxy cannot write a file itself."""

    def __init__(self, path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        open(self.path, "w").close()
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with open(self.path, "ab") as out:
            while not self._stop.is_set():
                try:
                    data = self.sock.recv(65536)
                except socket.timeout:
                    continue
                out.write(data.rstrip(b"\n").replace(b"\n", b" ") + b"\n")
                out.flush()
                self.received += 1

    def lines(self):
        with open(self.path) as handle:
            return handle.read().splitlines()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@contextlib.contextmanager
def logged_haproxy(tmp_path, backends):
    syslog = SyslogFile(tmp_path / "haproxy.log")
    haproxy = HAProxyInstance(tmp_path / "lb", backends, syslog=syslog.address)
    try:
        yield haproxy, syslog
    finally:
        haproxy.stop()
        syslog.stop()


def get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return response.read()


def requests_logged(syslog, count):
    """Wait until ``count`` request lines of backend app are in the file (UDP syslog is asynchronous)."""
    wait_until(
        lambda: sum(" app/" in line for line in syslog.lines()) >= count,
        timeout=15,
        interval=0.02,
        description="%d request lines in the HAProxy log" % count,
    )


def test_each_request_gives_its_server_response_time_between_two_snapshots(tmp_path, backends):
    with logged_haproxy(tmp_path, backends) as (haproxy, syslog):
        params = lb.resolve_params(
            {"load_balancer": {"socket": [haproxy.socket], "backend": "app", "haproxy": {"log": syslog.path}}}
        )
        providers = lb.providers_from_params(params)
        source = lb.HAProxyProvider.counters(params, providers)
        assert isinstance(source, haproxy_log.HAProxyLogCounters)
        for _request in range(5):  # traffic before the snapshot counts nowhere
            get(haproxy.url + "/pin/web3/slow?delay=0.2")
        requests_logged(syslog, 5)
        since = source.snapshot("app")
        assert since["log"]["offset"] > 0
        for _request in range(12):
            get(haproxy.url + "/pin/web1/")
        for _request in range(6):
            get(haproxy.url + "/pin/web2/slow?delay=0.08")
        requests_logged(syslog, 5 + 18)
        step = source.step(since, source.snapshot("app"))
    lines = syslog.lines()
    print(lines[-1])
    assert any(line.startswith("<") and "haproxy[" in line for line in lines)  # as HAProxy sent them, PRI first
    web1, web2, web3 = step["web1"], step["web2"], step["web3"]
    # show stat's counts, and one response time a request, the server's Tr in whole ms
    assert (web1.requests, web2.requests, web3.requests) == (12, 6, 0)
    assert len(web1.latency_values) == 12 and len(web2.latency_values) == 6 and web3.latency_values == []
    assert all(0 <= v < 80 for v in web1.latency_values) and all(v == int(v) for v in web1.latency_values)
    assert all(80 <= v < 5000 for v in web2.latency_values)  # the backend slept 80 ms before answering
    # the same values the file holds for those requests
    logged = [found for found in (haproxy_log.parse_line(line, "app") for line in lines) if found]
    assert len(logged) == 5 + 18
    assert sorted(v for s, v in logged[-18:] if s == "web2") == sorted(web2.latency_values)
    # the reference of the snapshot: the lines before it
    assert sorted(source.reference(since).latency_values) == sorted(v for s, v in logged if s == "web3")
