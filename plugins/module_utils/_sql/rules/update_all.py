# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``update_all``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

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
    "update_all",
    ALL,
    "UPDATE without a real WHERE rewrites and locks every row while the old version writes them",
    (
        "Backfill in batches (UPDATE ... WHERE id BETWEEN x AND y), each in its own transaction, "
        "outside the schema migration."
    ),
)

EVENTS = (ev.DataWide,)


def check(event: ev.DataWide, state: State) -> Optional[Finding]:
    if event.verb != "update" or event.filtered:
        return None
    return state.finding(RULE, event, "UPDATE %s without a real WHERE rewrites and locks every row" % event.table)
