# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``table_rewrite``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

The spec is docs/architecture.md (migration rules); its cases are the spec-corpus files that list it
(tests/corpus/migrations/*/expected.yml: ``rules:`` for the unsafe forms, ``safe_for:`` for their safe twins),
asserted by test_sql_safety_corpus.py.
"""

from __future__ import annotations

from typing import Optional

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import Rule, State

RULE = Rule(
    "table_rewrite",
    ("postgresql", "mysql"),
    (
        "rewrites or copies the whole table while the old version is blocked (PostgreSQL VACUUM FULL,"
        " CLUSTER, SET TABLESPACE, stored generated column; MySQL ALGORITHM=COPY, ENGINE/ROW_FORMAT "
        "change, OPTIMIZE, varchar widening across 255 bytes)"
    ),
    (
        "Do it online: PostgreSQL pg_repack or a new table filled in batches; MySQL "
        "ALGORITHM=INPLACE/INSTANT with LOCK=NONE, or gh-ost/pt-online-schema-change, outside the "
        "deploy."
    ),
    lock_only=True,
)

EVENTS = (ev.TableRebuild, ev.AddColumn, ev.AlterType, ev.AddConstraint)


_HOW = {
    "vacuum_full": "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock",
    "cluster": "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock",
    "refresh_mv": ("REFRESH MATERIALIZED VIEW without CONCURRENTLY locks the view against reads while it is rebuilt"),
    "optimize": "OPTIMIZE TABLE copies the whole table",
    "tablespace_mv": "SET TABLESPACE rewrites the materialized view",
    "tablespace_index": "SET TABLESPACE rewrites the index under an exclusive lock",
    "tablespace": "rewrites table %(table)s under an ACCESS EXCLUSIVE lock",
    "access_method": "changes the access method: full rewrite",
    "engine": "%(option)s rebuilds table %(table)s by copying it",
    "algorithm_copy": "ALGORITHM=COPY copies table %(table)s while writes wait",
}
# the ones that only rewrite when the table is big enough to matter (schema-aware mode knows its size)
_SIZED = ("tablespace_mv", "tablespace", "access_method")


def check(event: ev.Event, state: State) -> Optional[Finding]:
    if isinstance(event, ev.TableRebuild):
        if event.how in _SIZED and state.small(event.table):
            return None
        if event.how == "engine" and state.dialect != "mysql":
            return None
        return state.finding(RULE, event, _HOW[event.how] % {"table": event.table, "option": event.option})
    if isinstance(event, ev.AddColumn):
        if not event.generated_stored or event.via_rebuild:
            return None
        if state.dialect == "postgresql":
            if state.small(event.table):
                return None
            return state.finding(
                RULE,
                event,
                "adds stored generated column %s: every row of %s is rewritten under an ACCESS EXCLUSIVE lock"
                % (event.column, event.table),
            )
        if state.dialect == "mysql":
            return state.finding(RULE, event, "adds STORED generated column %s: MySQL copies the table" % event.column)
        return None
    if isinstance(event, ev.AddConstraint):
        if event.kind != "fk" or event.not_valid or state.dialect != "mysql" or event.fk_checks_off:
            return None
        return state.finding(
            RULE,
            event,
            "MySQL adds a foreign key with foreign_key_checks=1 by copying table %s (ALGORITHM=COPY)" % event.table,
        )
    if isinstance(event, ev.AlterType):
        return _type_change(event, state)
    return None


def _type_change(event: ev.AlterType, state: State) -> Optional[Finding]:
    where = "%s.%s" % (event.table, event.column)
    if event.via in ("rebuild", "rebuild_cast"):
        return None
    if event.new_column:
        # the old version does not know the column, but the table still gets rewritten/copied
        if event.change in ("same", "safe"):
            return None
        if event.via == "modify":
            return state.finding(
                RULE,
                event,
                "%s %s (added in this file) from %s to %s: MySQL copies the table"
                % (event.verb, where, event.old_type or "?", event.new_type),
            )
        if state.small(event.table):
            return None
        return state.finding(
            RULE,
            event,
            "changes the type of %s (added in this file) from %s to %s: the whole table is rewritten"
            % (where, event.old_type or "?", event.new_type),
        )
    if event.change != "rewrite" or (event.via == "alter" and (event.using or event.collate)):
        return None
    return state.finding(
        RULE,
        event,
        "widens %s from %s to %s across the 255-byte length prefix: MySQL copies the table%s"
        % (where, event.old_type, event.new_type, state.per(event.old_type_source)),
    )
