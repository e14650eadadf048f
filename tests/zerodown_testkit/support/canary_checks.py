"""What the canary_analysis integration tests check whatever the load balancer (HAProxy counters, nginx's log).

The provider-specific tests build the load balancer and its module arguments; the checks of a verdict that do
not depend on where the counts came from live here, once.
"""

from __future__ import annotations

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import wait_until


def wait_requests(load, more: int, timeout: float = 60) -> None:
    """Wait until the load generator has sent ``more`` requests beyond those so far."""
    target = load.requests_so_far + more
    wait_until(lambda: load.requests_so_far >= target, timeout=timeout, interval=0.05)


def healthy_steps_pass(module_runner, args: dict, load, pause: float, more: int) -> tuple:
    """Two chained steps of a healthy canary under ``load``: one call that snapshots itself and waits ``pause``,
    then (``more`` requests later, in check mode) one from the first's snapshot. Both pass; returns them."""
    first = module_runner("canary_analysis", dict(args, pause=pause, min_requests=50))
    assert not first["failed"], first
    print(first["reason"], first["canary"], first["baseline"])
    assert first["verdict"] == "pass", first["reason"]
    assert first["canary"]["requests"] >= 50 and first["canary"]["errors"] == 0
    assert pause <= first["waited_seconds"] < 60 and first["step_seconds"] >= pause - 0.5
    assert first["latency_ratio"] is not None and first["latency_ratio"] <= 1.5
    # The next step starts where this one ended; check mode runs it fully.
    wait_requests(load, more)
    second = module_runner("canary_analysis", dict(args, pause=0, since=first["snapshot"], min_requests=30), check=True)
    assert second["verdict"] == "pass", second["reason"]
    assert second["canary"]["requests"] >= 30
    assert second["snapshot"]["taken_at"] > first["snapshot"]["taken_at"]
    return first, second


#: The min_latency_increase_ms of the slow-canary tests: their canary sleeps 40 ms per request.
SLOW_INCREASE_MS = 20


def slow_canary_fails(result: dict, low_ms: float, high_ms: float) -> None:
    """A canary sleeping per request fails on latency alone, its mean between ``low_ms`` and ``high_ms`` (the call
    lowers min_latency_increase_ms to SLOW_INCREASE_MS: the 40 ms sleep is under the default 50 ms)."""
    print(result["reason"], result["canary"], result["baseline"])
    assert result["verdict"] == "fail", result["reason"]
    assert result["canary"]["errors"] == 0
    assert low_ms <= result["canary"]["latency_ms"] <= high_ms, result["canary"]
    assert result["baseline"]["latency_ms"] < 10, result["baseline"]
    assert result["latency_ratio"] > 1.5
    assert "max_latency_ratio 1.5" in result["reason"]
    assert "min_latency_increase_ms %g" % SLOW_INCREASE_MS in result["reason"]


def inconclusive(result: dict, most: int) -> None:
    """Fewer canary requests than min_requests 50 (between 1 and ``most``), after max_wait 1 s: inconclusive."""
    assert not result["failed"], result
    assert result["verdict"] == "inconclusive"
    assert 1 <= result["canary"]["requests"] <= most
    assert "fewer than min_requests 50" in result["reason"]
    assert result["waited_seconds"] >= 1
