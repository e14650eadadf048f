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
against ``max_error_rate``, response times by the Mann-Whitney U test where
per-request values exist, else by the means, held over ``latency_looks``
looks).

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
is not judged; a window that ends with fewer is ``inconclusive``. The looks
are the canary step's own (``canary.sequential_looks``), warm-up included.

Knows nothing of AnsibleModule.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Optional, Sequence

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import Clock
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import canary, counters

LABELS = canary.Labels(
    subject="new release",
    reference="the fleet before the deploy",
    reference_s="the fleet's before the deploy,",
)


looks = canary.looks
look_thresholds = canary.look_thresholds


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


BakeResult = canary.StepResult


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
    """Watch ``servers`` for ``window`` seconds against ``before``, a look every ``poll_interval`` seconds
    (``canary.sequential_looks``, as a canary step); stop at the first look that fails."""
    reference = source.reference(before)
    since = source.snapshot(backend, servers, now=now)

    def compare(per_server):
        return counters.group(per_server, servers), reference

    return canary.sequential_looks(
        source, backend, since, servers, compare, thresholds, window, 0.0, poll_interval, clock, now, LABELS
    )
