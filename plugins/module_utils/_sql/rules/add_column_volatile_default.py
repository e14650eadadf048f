# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``add_column_volatile_default``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

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
    "add_column_volatile_default",
    ("postgresql",),
    (
        "adds a column whose default is volatile (random(), gen_random_uuid(), clock_timestamp(), "
        "nextval/serial, identity): every row is rewritten under an ACCESS EXCLUSIVE lock"
    ),
    (
        "Add the column without a default (or with a constant/now()), SET DEFAULT for new rows, "
        "backfill existing rows in batches."
    ),
    lock_only=True,
)

EVENTS = (ev.AddColumn, ev.AddVolatileDefault)


def check(event: ev.Event, state: State) -> Optional[Finding]:
    if state.small(getattr(event, "table", None)):
        return None
    if isinstance(event, ev.AddVolatileDefault):
        return state.finding(RULE, event, "turns %s into an identity" % event.column)
    if isinstance(event, ev.AddColumn) and event.volatile and state.dialect == "postgresql":
        return state.finding(
            RULE,
            event,
            "adds column %s.%s with a volatile default (%s): every row is rewritten under an ACCESS EXCLUSIVE "
            "lock" % (event.table, event.column, event.volatile),
        )
    return None
