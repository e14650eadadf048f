# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``drop_index_blocking``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

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
    "drop_index_blocking",
    ("postgresql",),
    "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table",
    "DROP INDEX CONCURRENTLY, in a migration that runs outside a transaction.",
    lock_only=True,
)

EVENTS = (ev.DropIndex,)


def check(event: ev.DropIndex, state: State) -> Optional[Finding]:
    if event.statement_kind != "drop_index" or event.concurrently:
        return None
    return state.finding(RULE, event)
