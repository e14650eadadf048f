# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``alter_type``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

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
    "alter_type",
    ALL,
    "changes a column's type or collation: the table is rewritten/copied under lock and old-version values may no "
    "longer fit",
    (
        "Expand: add a new column of the new type, write both, backfill in batches, switch reads; drop the old column "
        + CONTRACT_LATER
        + ". (PostgreSQL varchar widening is safe when the prior type is known.)"
    ),
)

EVENTS = (ev.AlterType, ev.AlterNamedType)


def check(event: ev.Event, state: State) -> Optional[Finding]:
    if isinstance(event, ev.AlterNamedType):
        if event.convert_charset:
            return state.finding(RULE, event, "CONVERT TO CHARACTER SET changes every text column of %s" % event.name)
        return state.finding(RULE, event, "changes type %s (values or attributes the old version uses)" % event.name)
    if not isinstance(event, ev.AlterType) or event.new_column:
        return None  # the old version does not read a column this file adds (table_rewrite judges the lock)
    if event.via in ("rebuild_cast", "rebuild"):
        return _rebuild(event, state)
    if event.via == "modify":
        return _modify(event, state)
    return _alter_column(event, state)


def _rebuild(event: ev.AlterType, state: State) -> Optional[Finding]:
    """An SQLite rebuild that casts a column, or whose new definition gives it another type."""
    where = "%s.%s" % (event.table, event.column)
    if event.via == "rebuild_cast":
        return state.finding(
            RULE,
            event,
            "the rebuild casts %s to a new type%s" % (where, state.old_definition(event.old_definition_source)),
        )
    if event.change != "change":
        return None
    return state.finding(
        RULE,
        event,
        "the rebuild changes %s from %s to %s%s"
        % (where, event.old_type, event.new_type, state.old_definition(event.old_definition_source)),
    )


def _modify(event: ev.AlterType, state: State) -> Optional[Finding]:
    """MySQL MODIFY / CHANGE: the definition restated, whose type may be the old one."""
    where = "%s.%s" % (event.table, event.column)
    if event.old_type:
        if event.change == "change" or (event.collate and event.change != "rewrite"):
            return state.finding(
                RULE,
                event,
                "changes %s from %s to %s: MySQL copies the table%s"
                % (where, event.old_type, event.new_type, state.per(event.old_type_source)),
            )
        return None
    if event.restated_not_null:
        return None  # set_not_null reports it; a NOT NULL restatement is not read as a type change
    return state.finding(
        RULE,
        event,
        "%s redefines %s as %s, treated as a type change (a table copy in MySQL)%s"
        % (event.verb, where, event.new_type, unknown_fact(RULE.id, "its prior type")),
    )


def _alter_column(event: ev.AlterType, state: State) -> Optional[Finding]:
    """ALTER COLUMN ... TYPE."""
    if event.old_type and not event.using and not event.collate and event.change in ("same", "safe", "rewrite"):
        return None  # same type, a safe widening, or table_rewrite's (MySQL across the length prefix)
    message = "changes the type of %s.%s to %s" % (event.table, event.column, event.new_type)
    if event.old_type:
        origin = state.per(event.old_type_source)
        message += " (was %s%s)" % (event.old_type, ", " + origin[2:-1] if origin else "")
    elif event.varchar_target:
        message += ", which may not be a safe varchar widening" + unknown_fact(RULE.id, "its prior type")
    else:
        message += unknown_fact(RULE.id, "its prior type")
    if event.collate:
        message += " with a new collation"
    return state.finding(RULE, event, message)
