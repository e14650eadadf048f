from __future__ import annotations

import pytest
from zerodown_testkit.support.fake_clock import FakeClock

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import WaitTimeout, wait_until


def test_returns_first_truthy_value_and_counts_attempts():
    clock = FakeClock()
    values = iter([0, 0, "ok"])
    result = wait_until(lambda: next(values), timeout=10, interval=0.5, clock=clock)
    assert result.value == "ok"
    assert result.attempts == 3
    assert result.elapsed == pytest.approx(1.0)
    assert clock.sleeps == [0.5, 0.5]


def test_timeout_raises_with_last_value_and_never_oversleeps():
    clock = FakeClock()
    with pytest.raises(WaitTimeout) as err:
        wait_until(lambda: [], timeout=1.2, interval=0.5, clock=clock, description="backend drained")
    assert err.value.last == []
    assert err.value.attempts == 4
    assert err.value.elapsed == pytest.approx(1.2)
    assert clock.sleeps == [0.5, 0.5, pytest.approx(0.2)]
    assert "backend drained not met within 1.2s" in str(err.value)


def test_zero_timeout_still_tries_once():
    clock = FakeClock()
    assert wait_until(lambda: True, timeout=0, interval=1, clock=clock).attempts == 1
    with pytest.raises(WaitTimeout):
        wait_until(lambda: False, timeout=0, interval=1, clock=clock)


def test_on_attempt_sees_every_attempt():
    seen = []
    values = iter([False, True])
    wait_until(lambda: next(values), 5, 1, clock=FakeClock(), on_attempt=lambda n, v, t: seen.append((n, v, t)))
    assert seen == [(1, False, 0.0), (2, True, 1.0)]


@pytest.mark.parametrize("timeout,interval", [(-1, 1), (1, 0), (1, -0.1)])
def test_bad_arguments_are_rejected(timeout, interval):
    with pytest.raises(ValueError):
        wait_until(lambda: True, timeout, interval, clock=FakeClock())
