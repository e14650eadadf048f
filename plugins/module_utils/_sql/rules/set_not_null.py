# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``set_not_null``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

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
    "set_not_null",
    ALL,
    ("makes an existing column NOT NULL: old-version inserts that omit it or write NULL start failing"),
    (
        "Release code that always writes the column and backfill NULLs first; add NOT NULL in a later"
        " migration once no old version runs (PostgreSQL: ADD CONSTRAINT ... CHECK (col IS NOT NULL) "
        "NOT VALID, VALIDATE CONSTRAINT in its own transaction, then SET NOT NULL)."
    ),
)

EVENTS = (ev.SetNotNull,)


def check(event: ev.SetNotNull, state: State) -> Optional[Finding]:
    if event.new_column or event.proven_by:
        # a column added by this file is add_not_null_no_default's; a validated CHECK (col IS NOT NULL) proves
        # old code cannot write NULL already, and PostgreSQL 12+ uses it to skip the scan
        return None
    where = "%s.%s" % (event.table, event.column)
    if event.via == "rebuild_coalesce":
        message = "the rebuild makes %s NOT NULL (NULLs are filled)" % where
    elif event.via == "rebuild":
        message = "the rebuild makes %s NOT NULL" % where
    elif event.via == "modify":
        message = "%s makes %s NOT NULL: old-version writes of NULL fail%s" % (
            event.verb,
            where,
            state.per(event.column_source),
        )
        return state.finding(RULE, event, message)
    else:
        return state.finding(RULE, event, "makes %s NOT NULL: old-version writes of NULL fail" % where)
    message += state.old_definition(event.column_source)
    return state.finding(RULE, event, message)
