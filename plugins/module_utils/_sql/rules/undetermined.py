# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``undetermined``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

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
    "undetermined",
    ALL,
    "the checker cannot determine what this statement does to the schema the old version uses",
    (
        "Let the checker see the prior schema: keep the earlier migration files in the directory "
        "(history), or pass schema_dsn; or review it by hand and waive it with -- zerodown:waive "
        "undetermined reason: <why>."
    ),
)

EVENTS = (ev.Undetermined,)


def check(event: ev.Undetermined, state: State) -> Optional[Finding]:
    if event.changes_existing:
        return None
    severity = "error" if state.on_undetermined == "block" else "warning"  # the module option
    return state.finding(RULE, event, event.what, severity)
