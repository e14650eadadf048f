# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``alter_primary_key``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

The spec is docs/architecture.md (migration rules); its cases are the spec-corpus files that list it
(tests/corpus/migrations/*/expected.yml: ``rules:`` for the unsafe forms, ``safe_for:`` for their safe twins),
asserted by test_sql_safety_corpus.py.
"""

from __future__ import annotations

from typing import Optional

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import CONTRACT_LATER, Rule, State

RULE = Rule(
    "alter_primary_key",
    ("postgresql", "mysql"),
    ("changes a table's primary key: rebuilds/locks the table and changes row identity under the old version"),
    (
        "Add the new key as a unique index built online (PostgreSQL: CREATE UNIQUE INDEX CONCURRENTLY), move "
        "references over, and swap the primary key " + CONTRACT_LATER + "."
    ),
)

EVENTS = (ev.PrimaryKeyChange,)


def check(event: ev.PrimaryKeyChange, state: State) -> Optional[Finding]:
    if event.via_column:
        return state.finding(RULE, event, "adds a primary-key column to existing table %s" % event.table)
    if event.added and event.dropped:
        return state.finding(RULE, event, "replaces the primary key of %s" % event.table)
    if event.added:
        return state.finding(RULE, event, "adds a primary key to existing table %s" % event.table)
    return None
