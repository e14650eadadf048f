"""Fake HAProxy counters for unit tests: the rtime window as HAProxy computes it, and a runtime that serves traffic."""

from __future__ import annotations

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import counters


class Window:
    """HAProxy 2.6's per-server rtime: swrate_add_dynamic over TIME_STATS_SAMPLES, reported rounded up."""

    def __init__(self):
        self.sum = 0
        self.samples = 0

    def add(self, values):
        for v in values:
            self.samples += 1
            n = counters.TIME_STATS_SAMPLES if self.samples > counters.TIME_STATS_SAMPLES else 0
            self.sum = self.sum - ((self.sum + n - 1) // n if n else 0) + v
        return self

    @property
    def rtime(self):
        n = min(self.samples, counters.TIME_STATS_SAMPLES)
        return (self.sum + n - 1) // n if n else 0


class FakeRuntime:
    """show_info / show_stat of one HAProxy; ``serve`` adds traffic to a server."""

    def __init__(self, servers=("web1", "web2", "web3"), pid=100, started=1_700_000_000):
        self.pid, self.started = pid, started
        self.counters = {name: dict.fromkeys(counters.SNAPSHOT_FIELDS, 0) for name in servers}
        self.windows = {name: Window() for name in servers}
        self.on_read = None
        self.reads = 0

    def serve(self, name, requests, errors=0, latency_ms=2, econ=0, eresp=0, retries=0, redispatches=0):
        c = self.counters[name]
        c["wretr"] += retries
        c["wredis"] += redispatches
        c["stot"] += requests
        c["lbtot"] += requests
        answered = requests - econ - eresp
        c["hrsp_5xx"] += errors
        c["hrsp_2xx"] += answered - errors
        c["econ"] += econ
        c["eresp"] += eresp
        c["req_tot"] += answered
        c["rtime"] = self.windows[name].add([latency_ms] * answered).rtime

    def show_info(self):
        return {"Name": "HAProxy", "Pid": str(self.pid), "Start_time_sec": str(self.started)}

    def show_stat(self, backend=None):
        self.reads += 1
        if self.on_read:
            self.on_read(self)
        if backend != "app":
            return []
        rows = [dict(c, pxname="app", svname=name, status="UP") for name, c in self.counters.items()]
        return rows + [{"pxname": "app", "svname": "BACKEND", "stot": 0}]
