"""A clock for unit tests: ``sleep`` advances time at once, and every sleep is recorded."""

from __future__ import annotations

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import Clock


class FakeClock(Clock):
    """A clock whose sleep advances time instantly; for unit tests."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self.now += seconds
