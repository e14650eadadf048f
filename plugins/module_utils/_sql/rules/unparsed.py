# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``unparsed``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

The spec is docs/architecture.md (migration rules); its cases are the spec-corpus files that list it
(tests/corpus/migrations/*/expected.yml: ``rules:`` for the unsafe forms, ``safe_for:`` for their safe twins),
asserted by test_sql_safety_corpus.py.
"""

from __future__ import annotations

from typing import Optional

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import ALL, Rule, State

RULE = Rule(
    "unparsed",
    ALL,
    "a statement the checker cannot classify",
    (
        "Rewrite it in a form the checker understands, or review it by hand and waive it with -- "
        "zerodown:waive unparsed reason: <why it is safe>."
    ),
)

EVENTS = (ev.Undetermined,)


def check(event: ev.Undetermined, state: State) -> Optional[Finding]:
    if not event.changes_existing:
        return None
    return state.finding(
        RULE,
        event,
        event.what or "cannot classify this statement; it changes an existing object, so it blocks until reviewed",
        event.severity,
    )
