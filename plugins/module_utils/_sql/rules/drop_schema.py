# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``drop_schema``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

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
    "drop_schema",
    ("postgresql", "mysql"),
    "drops a whole schema/database with every object the old version uses",
    "Move the old version off the schema first; drop it " + CONTRACT_LATER + ".",
)

EVENTS = (ev.DropSchema,)


def check(event: ev.DropSchema, state: State) -> Optional[Finding]:
    if event.renamed:
        return state.finding(RULE, event, "renames schema %s: the old version uses the old name" % event.name)
    return state.finding(RULE, event)
