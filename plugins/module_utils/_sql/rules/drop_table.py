# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``drop_table``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

The spec is docs/architecture.md (migration rules); its cases are the spec-corpus files that list it
(tests/corpus/migrations/*/expected.yml: ``rules:`` for the unsafe forms, ``safe_for:`` for their safe twins),
asserted by test_sql_safety_corpus.py.
"""

from __future__ import annotations

from typing import Optional

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import unknown_fact
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import ALL, CONTRACT_LATER, Rule, State

RULE = Rule(
    "drop_table",
    ALL,
    "drops a table the old version still reads and writes",
    "Release code that no longer uses the table first; drop the table " + CONTRACT_LATER + ".",
)

EVENTS = (ev.DropTable,)

_HOW = {
    "drop": "drops table %(table)s while the old version still uses it",
    "or_replace": "CREATE OR REPLACE TABLE drops existing table %(table)s with its rows",
    "detach_partition": "DETACH PARTITION removes the partition's rows from %(table)s",
    "drop_partition": "drops a partition of %(table)s with its rows",
    "recreate": "drops and recreates table %(table)s without its rows",
    "replace": "replaces table %(table)s with %(new_name)s without copying its rows",
}


def check(event: ev.DropTable, state: State) -> Optional[Finding]:
    message = _HOW[event.how] % {"table": event.table, "new_name": event.new_name}
    if event.table_unknown:
        # IF EXISTS says its author expects it may exist: the worst case, with the old version's rows and columns
        message += unknown_fact(RULE.id, "whether table %s exists and what it holds" % event.table)
    return state.finding(RULE, event, message)
