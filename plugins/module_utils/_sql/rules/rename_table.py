# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``rename_table``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

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
    "rename_table",
    ALL,
    "renames a table: every query of the old version names the old table",
    (
        "Expand: create the new table (or a view with the new name over the old table), write to both, "
        "backfill, switch reads in the new release; drop the old name " + CONTRACT_LATER + "."
    ),
)

EVENTS = (ev.RenameTable,)


def check(event: ev.RenameTable, state: State) -> Optional[Finding]:
    if event.kind == "view":
        if event.moved_schema:
            return state.finding(RULE, event, "moves view %s to another schema" % event.old)
        return state.finding(RULE, event, "renames view %s: the old version queries it by name" % event.old)
    if event.moved_schema:
        return state.finding(RULE, event, "moves table %s to another schema" % event.old)
    return state.finding(
        RULE,
        event,
        "renames table %s to %s: the old version queries %s" % (event.old, event.new, event.old),
    )
