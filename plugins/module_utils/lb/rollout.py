# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: analysis during a rollout (canary_analysis ``state=rollout``).

A release that passes readiness and the smoke test can still go bad seconds later; the bake window only starts
after the last batch. This judges the servers that already moved to the new release while the rollout goes on,
so a bad release is stopped (and rolled back by the strategy's rescue) within a batch.

The caller keeps a list of what moved, ``entered``: one entry per batch, ``{servers: [...], snapshot: {...}}``,
the snapshot taken just before the batch moved (while it was drained and served nothing), so that what each
server did since its snapshot is what it did on the new release. Each call:

* judges the moved servers - the sum over the entries of each entry's servers from its snapshot to now -
  against the servers that did not move, over the same time (counts since the first entry's snapshot), or, when
  none is left or they served nothing, against the counters from before the deploy (``before``, the bake window's
  reference: ``CounterSource.reference``); with the same statistics (``canary.judge``);
* with ``pause`` 0 judges once what was seen so far; with ``pause`` above 0 watches that long, a look every
  ``poll_interval`` seconds at ``significance / looks`` (lb/bake.py's looks), stopping at the first that fails;
* returns ``entered`` plus ``{servers: entering, snapshot: the last snapshot}``, the list the next call continues.

An entry without a snapshot counts from the start of the call (blue-green: the new colour watched after the
switch). Fewer than ``min_requests`` requests on the moved servers is ``inconclusive``: the rollout goes on.

Knows nothing of AnsibleModule.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import Clock
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import bake, canary, counters
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.errors import CanaryInputError
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import validate_name

UNMOVED_LABELS = canary.Labels(
    subject="moved servers (new release)",
    reference="the servers not moved yet",
    reference_s="the servers not moved yet's",
)
BEFORE_LABELS = canary.Labels(
    subject="moved servers (new release)",
    reference="the fleet before the deploy",
    reference_s="the fleet's before the deploy,",
)

ENTRY_FIX = "pass back the 'entered' list the previous state=rollout call returned (start with [])"


@dataclasses.dataclass
class Entry:
    servers: List[str]
    snapshot: Optional[Dict[str, Any]]  # None: counted from the start of the call


def check_entered(
    entered: Any, entering: Sequence[str], validator: Optional[Callable[[str], Any]] = None
) -> List[Entry]:
    """The ``entered`` option, its shape and names (``validator`` raises ValueError; HAProxy's server names by
    default); the snapshots are checked against the counter source later (``check_snapshots``)."""
    validator = validator or (lambda name: validate_name(name, "server"))
    if not isinstance(entered, list):
        raise CanaryInputError("entered must be a list of {servers, snapshot}, got %r: %s" % (entered, ENTRY_FIX))
    out: List[Entry] = []
    seen: Dict[str, int] = {}
    for index, item in enumerate(entered):
        where = "entered[%d]" % index
        if not isinstance(item, Mapping):
            raise CanaryInputError("%s must be a dict with servers and snapshot, got %r: %s" % (where, item, ENTRY_FIX))
        unknown = sorted(set(item) - {"servers", "snapshot"})
        if unknown:
            raise CanaryInputError("%s has unknown key(s) %s: an entry has servers and snapshot" % (where, unknown))
        servers = item.get("servers")
        if not isinstance(servers, list) or not all(isinstance(s, str) and s for s in servers):
            raise CanaryInputError(
                "%s.servers must be a list of server names, got %r: %s" % (where, servers, ENTRY_FIX)
            )
        snapshot = item.get("snapshot")
        if snapshot is not None and not isinstance(snapshot, Mapping):
            raise CanaryInputError("%s.snapshot must be a snapshot (a dict), got %r: %s" % (where, snapshot, ENTRY_FIX))
        for name in servers:
            if name in seen:
                raise CanaryInputError(
                    "server %r is in entered[%d] and %s: a server moves once" % (name, seen[name], where)
                )
            seen[name] = index
        out.append(Entry(list(servers), dict(snapshot) if snapshot is not None else None))
    again = sorted(set(entering) & set(seen))
    if again:
        raise CanaryInputError(
            "server(s) %s are in entering and already in entered: name in entering only the servers about to move"
            % ", ".join(again)
        )
    moved = [name for entry in out for name in entry.servers]
    for name in moved + list(entering):
        try:
            validator(name)
        except ValueError as exc:
            raise CanaryInputError(str(exc)) from exc
    return out


def check_snapshots(source: counters.CounterSource, backend: str, entries: Sequence[Entry]) -> List[Entry]:
    """Each entry's snapshot checked by the counter source (the message names the entry)."""
    out = []
    for index, entry in enumerate(entries):
        snapshot = entry.snapshot
        if snapshot is not None:
            try:
                snapshot = source.check(snapshot, backend)
            except CanaryInputError as exc:
                raise CanaryInputError("entered[%d].snapshot: %s" % (index, exc)) from exc
        out.append(Entry(entry.servers, snapshot))
    return out


@dataclasses.dataclass
class RolloutResult(canary.StepResult):
    moved: List[str] = dataclasses.field(default_factory=list)
    unmoved: List[str] = dataclasses.field(default_factory=list)
    reference: str = "none"  # unmoved | before | none
    entered: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    looks: int = 1
    looked: int = 0


def judge_look(
    source: counters.CounterSource,
    entries: Sequence[Entry],
    unmoved: Sequence[str],
    latest: Mapping[str, Any],
    before_counts: counters.Counts,
    thresholds: canary.Thresholds,
) -> Tuple[canary.Verdict, Dict[str, counters.Counts], str]:
    """One look: the moved servers (each entry from its snapshot) against the unmoved ones or before the deploy."""
    per_server: Dict[str, counters.Counts] = {}
    moved = counters.Counts()
    for entry in entries:
        step = source.step(entry.snapshot, latest)
        moved = moved.add(counters.group(step, entry.servers))
        per_server.update({name: step.get(name, counters.Counts()) for name in entry.servers})
    others = counters.Counts()
    if unmoved:
        step = source.step(entries[0].snapshot, latest)
        others = counters.group(step, unmoved)
        per_server.update({name: step.get(name, counters.Counts()) for name in unmoved})
    if others.requests:
        return canary.judge(moved, others, thresholds, UNMOVED_LABELS), per_server, "unmoved"
    return canary.judge(moved, before_counts, thresholds, BEFORE_LABELS), per_server, "before"


@dataclasses.dataclass
class Groups:
    """What one call judges: the first snapshot, the entries (each with a snapshot), who moved and who did not."""

    start: Dict[str, Any]
    entries: List[Entry]
    moved: List[str]
    unmoved: List[str]


def groups(
    source: counters.CounterSource,
    backend: str,
    entered: Sequence[Entry],
    entering: Sequence[str],
    validator: Optional[Callable[[str], Any]],
    now: Callable[[], float],
) -> Groups:
    """A snapshot now; the entries without one count from it; the moved servers and the others, checked."""
    entries = check_snapshots(source, backend, entered)
    start = source.snapshot(backend, now=now)
    known = counters.snapshot_servers(start)
    unknown = [n for n in entering if n not in known]
    if unknown:
        raise CanaryInputError(
            "entering names server(s) %s that the backend %r does not have (it has: %s)"
            % (", ".join(unknown), backend, ", ".join(known) or "none")
        )
    entries = [Entry(e.servers, e.snapshot if e.snapshot is not None else start) for e in entries]
    moved = [name for entry in entries for name in entry.servers]
    if not moved:
        return Groups(start, entries, [], list(known))
    # the others, the servers about to move included, have not moved yet
    moved, unmoved = canary.check_groups(moved, None, known, validator)
    return Groups(start, entries, moved, unmoved)


def nothing_moved(entering: Sequence[str], thresholds: canary.Thresholds) -> canary.Verdict:
    return canary.Verdict(
        "inconclusive",
        "nothing has moved yet: only the snapshot of %s was taken" % (", ".join(entering) or "no server"),
        counters.Counts(),
        counters.Counts(),
        thresholds,
    )


def watch(
    source: counters.CounterSource,
    backend: str,
    entered: Sequence[Entry],
    entering: Sequence[str],
    before: Optional[Mapping[str, Any]],
    thresholds: canary.Thresholds,
    pause: float = 0.0,
    poll_interval: float = 1.0,
    validator: Optional[Callable[[str], Any]] = None,
    clock: Optional[Clock] = None,
    now: Callable[[], float] = time.time,
) -> RolloutResult:
    """Judge what moved so far (once, or for ``pause`` seconds); return the list the next call continues."""
    clock = clock or Clock()
    started = clock.monotonic()
    before_counts = source.reference(source.check(before, backend)) if before is not None else counters.Counts()
    g = groups(source, backend, entered, entering, validator, now)
    count = bake.looks(pause, poll_interval) if pause > 0 else 1
    per_look = bake.look_thresholds(thresholds, count)
    deadline = started + pause
    latest, looked, reference = g.start, 0, "none"
    verdict, per_server = nothing_moved(entering, thresholds), {}
    while g.moved:
        if pause > 0:
            clock.sleep(min(poll_interval, max(0.0, deadline - clock.monotonic())))
            latest = source.snapshot(backend, now=now)
        verdict, per_server, reference = judge_look(source, g.entries, g.unmoved, latest, before_counts, per_look)
        looked += 1
        if verdict.verdict == "fail" or clock.monotonic() >= deadline - 1e-9:
            break
    given = [{"servers": e.servers, "snapshot": e.snapshot} for e in g.entries]
    if entering:
        given.append({"servers": list(entering), "snapshot": latest})
    since = g.entries[0].snapshot if g.entries else g.start
    return RolloutResult.measured(
        verdict,
        since,
        latest,
        per_server,
        clock,
        started,
        moved=g.moved,
        unmoved=g.unmoved,
        reference=reference,
        entered=given,
        looks=count,
        looked=looked,
    )
