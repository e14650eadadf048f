# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: one waiter for every poll loop.

Probe, drain and lock all wait for a condition with a deadline. They share
``wait_until`` so that the deadline arithmetic lives in one place and tests
can drive time through an injected clock instead of sleeping.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Optional


class Clock:
    """Real time. Tests pass a fake with the same two methods."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class WaitTimeout(Exception):
    """The condition did not hold before the deadline."""

    def __init__(self, message: str, last: Any = None, elapsed: float = 0.0, attempts: int = 0) -> None:
        super().__init__(message)
        self.last = last
        self.elapsed = elapsed
        self.attempts = attempts


class WaitResult:
    __slots__ = ("value", "elapsed", "attempts")

    def __init__(self, value: Any, elapsed: float, attempts: int) -> None:
        self.value = value
        self.elapsed = elapsed
        self.attempts = attempts


def wait_until(
    predicate: Callable[[], Any],
    timeout: float,
    interval: float,
    clock: Optional[Clock] = None,
    on_attempt: Optional[Callable[[int, Any, float], None]] = None,
    description: str = "condition",
) -> WaitResult:
    """Call ``predicate`` until it returns a truthy value or ``timeout`` passes.

    ``predicate`` is always called at least once, even with ``timeout=0``.
    The sleep before the next attempt never overshoots the deadline, so the
    caller is back within ``interval`` of the condition becoming true and never
    later than the deadline plus one predicate call.

    Returns a WaitResult whose ``value`` is the truthy value; raises
    WaitTimeout carrying the last (falsy) value otherwise.
    """
    # not (x >= 0) rather than x < 0: nan compares false with everything, and a wait on it would never end.
    if not (0 <= timeout < math.inf):
        raise ValueError("timeout must be a finite number >= 0, got %r" % (timeout,))
    if not (0 < interval < math.inf):
        raise ValueError("interval must be a finite number > 0, got %r" % (interval,))
    clock = clock or Clock()
    start = clock.monotonic()
    deadline = start + timeout
    attempts = 0
    while True:
        attempts += 1
        value = predicate()
        now = clock.monotonic()
        if on_attempt is not None:
            on_attempt(attempts, value, now - start)
        if value:
            return WaitResult(value, now - start, attempts)
        remaining = deadline - now
        if remaining <= 0:
            raise WaitTimeout(
                "%s not met within %ss (%d attempts)" % (description, timeout, attempts),
                last=value,
                elapsed=now - start,
                attempts=attempts,
            )
        clock.sleep(min(interval, remaining))
