# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``add_not_null_no_default``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

The spec is docs/architecture.md (migration rules); its cases are the spec-corpus files that list it
(tests/corpus/migrations/*/expected.yml: ``rules:`` for the unsafe forms, ``safe_for:`` for their safe twins),
asserted by test_sql_safety_corpus.py.
"""

from __future__ import annotations

from typing import Optional

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import unknown_fact
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import ALL, Rule, State

RULE = Rule(
    "add_not_null_no_default",
    ALL,
    (
        "adds a NOT NULL column without a default (or drops the default afterwards): old-version "
        "inserts do not know the column and fail"
    ),
    (
        "Add the column with a DEFAULT (or nullable), backfill, and drop the default / add NOT NULL "
        "in a later migration once every running version writes the column."
    ),
)

EVENTS = (ev.AddColumn, ev.SetNotNull, ev.DropDefault)


def check(event: ev.Event, state: State) -> Optional[Finding]:
    if isinstance(event, ev.AddColumn):
        if not event.not_null or event.fills_itself:
            return None
        if event.via_rebuild:
            origin = state.old_definition(event.old_definition_source)
            return state.finding(
                RULE,
                event,
                "the rebuild adds NOT NULL column %s.%s without a default%s" % (event.table, event.column, origin),
            )
        return state.finding(
            RULE,
            event,
            "adds NOT NULL column %s.%s without a default: old-version INSERTs that do not name it fail"
            % (event.table, event.column),
        )
    if isinstance(event, ev.SetNotNull):
        if not event.new_column or event.fills_itself:
            return None
        return state.finding(
            RULE,
            event,
            "column %s.%s is added in this file and made NOT NULL without a default: old-version INSERTs fail"
            % (event.table, event.column),
        )
    if isinstance(event, ev.DropDefault):
        if event.new_column:
            if event.not_null and event.filled_before and not event.fills_now:
                return state.finding(
                    RULE,
                    event,
                    "column %s.%s was added NOT NULL with a default in this file and the default is dropped: "
                    "old-version INSERTs that do not name it fail" % (event.table, event.column),
                )
            return None
        if event.column_unknown:
            return state.finding(
                RULE,
                event,
                "drops the default of %s.%s, which may be a NOT NULL column: old-version INSERTs that omit it would "
                "fail%s"
                % (
                    event.table,
                    event.column,
                    unknown_fact(RULE.id, "whether %s.%s is NOT NULL" % (event.table, event.column)),
                ),
            )
        if event.not_null and event.prior_known:
            return state.finding(
                RULE,
                event,
                "drops the default of NOT NULL column %s.%s: old-version INSERTs that omit it fail"
                % (event.table, event.column),
            )
    return None
