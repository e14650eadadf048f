# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the bake window after the last switch.

A release can pass its readiness probe and its smoke test and still go bad
a minute later (a cache that fills, a connection pool that runs dry, a job
that starts on a timer). CodeDeploy rolls back on an alarm during a window
after the deploy; this is the same idea with no metrics system: for
``window`` seconds the servers now taking traffic are read from the load
balancer's per-server counters and compared with what the same counters
showed before the deploy (the snapshot taken at preflight), with the
canary analysis's own statistics (``canary.judge``: a one-sided Fisher
exact test against the error rate before the deploy, an exact binomial test
against ``max_error_rate``, the ratio of mean response times).

What "before the deploy" means is the counter source's ``reference``: with
HAProxy, the counters of every server of the backend at preflight, counted
from the start of the HAProxy process (that is what its cumulative counters
hold), so the reference is the fleet's own history on this load balancer,
usually far more requests than the window sees; its response time is
HAProxy's ``rtime`` then (the mean of each server's last 512 responses). With
nginx, the access log's last lines before the snapshot (``REFERENCE_BYTES``).

The window is judged as it goes, every ``poll_interval`` seconds, so that a
breach rolls back in seconds rather than at the end of the window. Looking
many times at one growing sample raises the chance of a false alarm, so
each look uses ``significance / looks`` (Bonferroni; looks = window /
poll_interval): the window as a whole keeps the false-alarm rate of one
test at ``significance``. A look with fewer than ``min_requests`` requests
is not judged; a window that ends with fewer is ``inconclusive``.

Knows nothing of AnsibleModule.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Mapping, Optional, Sequence

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import Clock
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import canary, counters

LABELS = canary.Labels(
    subject="new release",
    reference="the fleet before the deploy",
    reference_s="the fleet's before the deploy,",
)


def looks(window: float, poll_interval: float) -> int:
    """How many times a window of ``window`` seconds is judged."""
    return max(1, int(math.ceil(window / poll_interval - 1e-9)))


def look_thresholds(thresholds: canary.Thresholds, count: int) -> canary.Thresholds:
    """The thresholds of one look: the same, with the significance shared among ``count`` looks."""
    return dataclasses.replace(thresholds, significance=thresholds.significance / count)


def taking_traffic(states: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list:
    """Servers ready with a weight above 0 on any load balancer (``_lb.read_all`` output), sorted."""
    return sorted(
        {
            name
            for servers in states.values()
            for name, info in servers.items()
            if info.get("state") == "ready" and (info.get("weight") or 0) > 0
        }
    )


@dataclasses.dataclass
class BakeResult(canary.StepResult):
    looks: int = 1
    looked: int = 0


def watch(
    source: counters.CounterSource,
    backend: str,
    before: Mapping[str, Any],
    servers: Sequence[str],
    thresholds: canary.Thresholds,
    window: float,
    poll_interval: float = 1.0,
    clock: Optional[Clock] = None,
    now: Callable[[], float] = time.time,
) -> BakeResult:
    """Watch ``servers`` for ``window`` seconds against ``before``; stop at the first look that fails."""
    clock = clock or Clock()
    started = clock.monotonic()
    reference = source.reference(before)
    count = looks(window, poll_interval)
    per_look = look_thresholds(thresholds, count)
    since = source.snapshot(backend, servers, now=now)
    deadline = started + window
    looked = 0
    while True:
        clock.sleep(min(poll_interval, max(0.0, deadline - clock.monotonic())))
        snapshot = source.snapshot(backend, servers, now=now)
        per_server = source.step(since, snapshot)
        verdict = canary.judge(counters.group(per_server, servers), reference, per_look, LABELS)
        looked += 1
        if verdict.verdict == "fail" or clock.monotonic() >= deadline - 1e-9:
            break
    return BakeResult.measured(verdict, since, snapshot, per_server, clock, started, looks=count, looked=looked)
