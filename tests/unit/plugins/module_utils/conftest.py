"""Fixtures shared by the module_utils unit tests."""

from __future__ import annotations

import pytest


class SettableClock:
    """A wall clock (``time.time`` stand-in) that tests move by hand: ``clock.now += 61``."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return SettableClock()
