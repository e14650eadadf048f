# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``drop_column``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

The spec is docs/architecture.md (migration rules); its cases are the spec-corpus files that list it
(tests/corpus/migrations/*/expected.yml: ``rules:`` for the unsafe forms, ``safe_for:`` for their safe twins),
asserted by test_sql_safety_corpus.py.
"""

from __future__ import annotations

from typing import Optional

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import ALL, CONTRACT_LATER, Rule, State

RULE = Rule(
    "drop_column",
    ALL,
    "drops a column the old version still selects or inserts",
    (
        "Release code that no longer reads or writes the column (ORMs: mark it ignored) first; drop the column "
        + CONTRACT_LATER
        + "."
    ),
)

EVENTS = (ev.DropColumn,)


def check(event: ev.DropColumn, state: State) -> Optional[Finding]:
    if event.via_rebuild:
        message = "the rebuild of %s does not carry column %s over" % (event.table, event.column)
        return state.finding(RULE, event, message + state.old_definition(event.old_definition_source))
    return state.finding(
        RULE,
        event,
        "drops column %s.%s while the old version still reads or writes it" % (event.table, event.column),
    )
