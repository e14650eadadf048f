# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``create_index_blocking``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

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
    "create_index_blocking",
    ("postgresql",),
    "CREATE INDEX without CONCURRENTLY blocks every write to the table while the index is built",
    ("CREATE INDEX CONCURRENTLY, in a migration that runs outside a transaction (goose: -- +goose NO TRANSACTION)."),
    lock_only=True,
)

EVENTS = (ev.CreateIndex,)


def check(event: ev.CreateIndex, state: State) -> Optional[Finding]:
    if event.concurrently:
        return None
    if event.reindex:
        return state.finding(RULE, event, "REINDEX without CONCURRENTLY blocks writes while it rebuilds")
    if state.dialect != "postgresql" or state.small(event.table):
        return None  # MySQL and SQLite: add_unique_constraint judges a unique index; a plain one is online
    return state.finding(
        RULE,
        event,
        "CREATE %sINDEX without CONCURRENTLY on %s blocks every write while the index is built"
        % ("UNIQUE " if event.unique else "", event.table),
    )
