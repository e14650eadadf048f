"""A counter source for unit tests that serves scripted traffic on the fake clock, second by second.

``traffic`` maps a server to a function of the second (0, 1, 2, ... since the source was made) returning
(requests, errors, response time in ms) for that second. With ``values=True`` each request also leaves its own
response time (``Counts.latency_values``, as an access log gives), spread a little around the second's value so that
not every value ties. ``serving(name)`` says whether a server takes requests now (a drained canary does not).
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import counters

Second = Callable[[int], Tuple[int, int, float]]


def steady(requests: int, error_rate: float = 0.0, latency_ms: float = 5.0) -> Second:
    """``requests`` a second, errors at ``error_rate`` (counted cumulatively, so 27 % of 20/s is 27 in 5 s)."""

    def second(s: int) -> Tuple[int, int, float]:
        errors = int(error_rate * requests * (s + 1) + 1e-9) - int(error_rate * requests * s + 1e-9)
        return requests, errors, latency_ms

    return second


class ScriptedCounters(counters.CounterSource):
    kind = "scripted"

    def __init__(self, clock, traffic: Dict[str, Second], values: bool = False, serving=None) -> None:
        self.clock = clock
        self.traffic = traffic
        self.values = values
        self.serving: Callable[[str], bool] = serving or (lambda name: True)
        self.start = clock.monotonic()
        self.served: Dict[str, list] = {name: [] for name in traffic}  # per second: (requests, errors, ms)
        self.upto = 0

    def _advance(self) -> None:
        now = int(self.clock.monotonic() - self.start + 1e-9)
        for s in range(self.upto, now):
            for name, second in self.traffic.items():
                self.served[name].append(second(s) if self.serving(name) else (0, 0, 0.0))
        self.upto = max(self.upto, now)

    def snapshot(self, backend, servers=None, now=None):
        self._advance()
        names = list(servers) if servers else sorted(self.traffic)
        return {
            "version": 1,
            "source": self.kind,
            "backend": backend,
            "taken_at": self.clock.monotonic(),
            "upto": self.upto,
            "load_balancers": {"lb": {"servers": {name: {} for name in names}}},
        }

    def check(self, since, backend):
        return since

    def step(self, since, now) -> Dict[str, counters.Counts]:
        out = {}
        for name in now["load_balancers"]["lb"]["servers"]:
            out[name] = self.counts(self.served[name][since["upto"] : now["upto"]])
        return out

    def counts(self, seconds) -> counters.Counts:
        total = counters.Counts()
        for requests, errors, ms in seconds:
            values = [ms + (i % 7) * 0.1 for i in range(requests)] if self.values else []
            total = total.add(
                counters.Counts(
                    requests=requests,
                    responses=requests,
                    http_5xx=errors,
                    latency_samples=requests,
                    latency_weighted_ms=ms * requests,
                    latency_values=values,
                )
            )
        return total

    def reference(self, before) -> Optional[counters.Counts]:
        raise NotImplementedError
