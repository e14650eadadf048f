# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the failed requests the load balancer counted during a deploy.

The deploy takes a snapshot of the counters at preflight (``canary_analysis state=snapshot``) and, at its end,
success or rollback alike, reads them again (``state=tally``): per server and in total, the requests, the
failed ones (5xx answers, connection errors, response errors; ``counters.Counts.errors``) and HAProxy's retries
and redispatches in between. The deltas are the counter source's (``CounterSource.step``), the same the canary
analysis judges.

A tally never fails the deploy it reports on: whatever keeps it from counting (nginx without an access log, a
HAProxy reloaded during the deploy so that its counters started again, a log rotated or unreadable, no snapshot
before the deploy) is returned as ``measured: false`` with the reason. Knows nothing of AnsibleModule.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import counters
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.core import LBError
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.errors import CanaryError
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import HAProxyError

#: What a tally reports of each server and of the total (a subset of ``Counts.to_dict``); ``failed`` is ``errors``.
TALLY_KEYS = ("requests", "failed", "http_5xx", "connection_errors", "response_errors", "retries", "redispatches")

NO_SNAPSHOT = (
    "the counters were not read before the deploy (the preflight task 'Counters before the deploy' did not return "
    "a snapshot), so there is nothing to count from"
)


def counted(counts: counters.Counts) -> Dict[str, int]:
    """One server's (or the total's) tally from its Counts."""
    data = counts.to_dict()
    data["failed"] = data["errors"]
    return {key: int(data.get(key) or 0) for key in TALLY_KEYS}


def not_measured(reason: str) -> Dict[str, Any]:
    return {"measured": False, "reason": reason, "total": None, "servers": {}, "seconds": None}


def measured(per_server: Mapping[str, counters.Counts], seconds: Optional[float]) -> Dict[str, Any]:
    total = counters.group(per_server, sorted(per_server))
    return {
        "measured": True,
        "reason": None,
        "total": counted(total),
        "servers": {name: counted(counts) for name, counts in sorted(per_server.items())},
        "seconds": None if seconds is None else round(max(0.0, seconds), 3),
    }


def tally(
    source: Callable[[], counters.CounterSource],
    backend: str,
    before: Any,
    problem: Optional[str] = None,
) -> Dict[str, Any]:
    """What the servers of ``before`` did since it was taken, or why it cannot be said.

    ``source`` builds the counter source (connecting to a load balancer may fail: that is a reason too);
    ``problem`` is why this load balancer gives no counters at all (``Provider.counters_problem``).
    """
    if problem:
        return not_measured(problem)
    if not before:
        return not_measured(NO_SNAPSHOT)
    try:
        counter_source = source()
        since = counter_source.check(before, backend)
        now = counter_source.snapshot(backend, counters.snapshot_servers(since))
        per_server = counter_source.step(since, now)
    except CanaryError as exc:  # CounterResetError (reloaded, rotated), an unreadable log, a changed backend
        return not_measured(str(exc))
    except (LBError, HAProxyError, OSError, ValueError) as exc:
        return not_measured("the load balancer's counters could not be read at the end of the deploy: %s" % exc)
    return measured(per_server, now.get("taken_at", 0) - since.get("taken_at", 0))
