# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``delete_all``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

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
    "delete_all",
    ALL,
    ("DELETE without a real WHERE removes every row while the old version serves them, locking them all"),
    "Delete in batches with a WHERE clause on a key range, outside the deploy's schema migration.",
)

EVENTS = (ev.DataWide,)


def check(event: ev.DataWide, state: State) -> Optional[Finding]:
    if event.verb != "delete" or event.filtered:
        return None
    return state.finding(RULE, event, "DELETE on %s without a real WHERE removes every row" % event.table)
