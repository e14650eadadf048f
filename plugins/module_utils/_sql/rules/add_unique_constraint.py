# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``add_unique_constraint``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

The spec is docs/architecture.md (migration rules); its cases are the spec-corpus files that list it
(tests/corpus/migrations/*/expected.yml: ``rules:`` for the unsafe forms, ``safe_for:`` for their safe twins),
asserted by test_sql_safety_corpus.py.
"""

from __future__ import annotations

from typing import Optional

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import ALL, Rule, State

RULE = Rule(
    "add_unique_constraint",
    ALL,
    ("adds a UNIQUE constraint: the index is built while writes wait, and old-version writes of duplicates fail"),
    (
        "PostgreSQL: CREATE UNIQUE INDEX CONCURRENTLY (outside a transaction), then ALTER TABLE ... "
        "ADD CONSTRAINT ... UNIQUE USING INDEX. MySQL/SQLite: make the new release write unique "
        "values and de-duplicate first; add the unique index once no old version runs."
    ),
)

EVENTS = (ev.CreateIndex, ev.AddConstraint, ev.AddColumn, ev.UniquenessChange)


def check(event: ev.Event, state: State) -> Optional[Finding]:
    if isinstance(event, ev.CreateIndex):
        # PostgreSQL: create_index_blocking covers the lock, and CONCURRENTLY is the remedy of both
        if not event.unique or event.reindex or state.dialect == "postgresql":
            return None
        return state.finding(
            RULE,
            event,
            "CREATE UNIQUE INDEX on existing table %s: old-version writes of duplicate values start failing, and "
            "the build fails on existing duplicates" % event.table,
        )
    if isinstance(event, ev.AddConstraint):
        if event.kind not in ("unique", "exclude"):
            return None
        if event.using_index and state.dialect == "postgresql":
            return None  # the unique index was built beforehand (CONCURRENTLY): a metadata change
        return state.finding(
            RULE,
            event,
            "ADD %s on existing table %s builds its index while writes wait, and old-version duplicate writes "
            "fail" % (event.kind.upper(), event.table),
        )
    if isinstance(event, ev.AddColumn):
        if event.unique and not event.primary_key and not event.via_rebuild:
            return state.finding(RULE, event, "adds a UNIQUE column to existing table %s" % event.table)
        return None
    if isinstance(event, ev.UniquenessChange) and not event.dropped:
        origin = state.old_definition(event.old_definition_source)
        return state.finding(RULE, event, "the rebuild makes %s.%s UNIQUE%s" % (event.table, event.column, origin))
    return None
