# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``rename_column``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

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
    "rename_column",
    ALL,
    "renames a column (MySQL CHANGE included): the old version's queries use the old name",
    (
        "Expand: add the new column, write both (application or trigger), backfill in batches, switch reads; "
        "drop the old column " + CONTRACT_LATER + "."
    ),
)

EVENTS = (ev.RenameColumn,)


def check(event: ev.RenameColumn, state: State) -> Optional[Finding]:
    if event.via == "view":
        return state.finding(RULE, event, "renames a column of view %s" % event.table)
    if event.via == "change":
        return state.finding(RULE, event, "CHANGE renames %s.%s to %s" % (event.table, event.old, event.new))
    if event.via == "rebuild":
        origin = state.old_definition(event.old_definition_source)
        return state.finding(
            RULE, event, "the rebuild renames %s.%s to %s%s" % (event.table, event.old, event.new, origin)
        )
    return state.finding(RULE, event, "renames column %s.%s to %s" % (event.table, event.old, event.new))
