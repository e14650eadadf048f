# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``lock_table``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

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
    "lock_table",
    ("postgresql", "mysql"),
    "locks a whole table explicitly: the old version's queries wait",
    "Drop the explicit lock; use row-level locking or batched updates.",
)

EVENTS = (ev.LockTable,)


def check(event: ev.LockTable, state: State) -> Optional[Finding]:
    if event.via == "mysql_option":
        if event.mode not in ("EXCLUSIVE", "SHARED"):
            return None
        return state.finding(RULE, event, "LOCK=%s blocks the old version's writes during the change" % event.mode)
    if state.dialect == "postgresql" and event.mode in ("ACCESS SHARE", "ROW SHARE"):
        return None  # blocks only ACCESS EXCLUSIVE: reads and writes go on
    return state.finding(RULE, event)
