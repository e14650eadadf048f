# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``drop_unique_constraint``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

The spec is docs/architecture.md (migration rules); its cases are the spec-corpus files that list it
(tests/corpus/migrations/*/expected.yml: ``rules:`` for the unsafe forms, ``safe_for:`` for their safe twins),
asserted by test_sql_safety_corpus.py.
"""

from __future__ import annotations

from typing import Optional

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import unknown_fact
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import ALL, CONTRACT_LATER, Rule, State

RULE = Rule(
    "drop_unique_constraint",
    ALL,
    (
        "drops a UNIQUE / PRIMARY KEY constraint or unique index the old version relies on (upserts, "
        "ON CONFLICT, single-row lookups)"
    ),
    "Keep the constraint while the old version runs; drop it " + CONTRACT_LATER + ".",
)

EVENTS = (ev.DropIndex, ev.PrimaryKeyChange, ev.UniquenessChange)


def check(event: ev.Event, state: State) -> Optional[Finding]:
    if isinstance(event, ev.DropIndex):
        if not event.unique_names:
            return None
        what = "constraint" if event.statement_kind == "drop_constraint" else "index"
        if event.kind_unknown:
            return state.finding(
                RULE,
                event,
                "drops %s, which may be a UNIQUE %s the old version relies on%s"
                % (
                    ", ".join(event.unique_names),
                    what,
                    unknown_fact(RULE.id, "the kind of %s %s" % (what, ", ".join(event.kind_unknown))),
                ),
            )
        return state.finding(
            RULE,
            event,
            "drops %s, a unique %s per %s the old version may rely on"
            % (", ".join(event.unique_names), what, state.describe(event.unique_source)),
        )
    if isinstance(event, ev.PrimaryKeyChange):
        if event.dropped and event.added:
            return state.finding(RULE, event, "drops the old primary key of %s and its uniqueness" % event.table)
        if event.dropped:
            return state.finding(RULE, event, "drops the primary key of %s" % event.table)
        return None
    if isinstance(event, ev.UniquenessChange) and event.dropped:
        return state.finding(
            RULE,
            event,
            "the rebuild drops the uniqueness of %s.%s%s"
            % (event.table, event.column, state.old_definition(event.old_definition_source)),
        )
    return None
