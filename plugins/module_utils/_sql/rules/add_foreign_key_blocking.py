# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``add_foreign_key_blocking``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

The spec is docs/architecture.md (migration rules); its cases are the spec-corpus files that list it
(tests/corpus/migrations/*/expected.yml: ``rules:`` for the unsafe forms, ``safe_for:`` for their safe twins),
asserted by test_sql_safety_corpus.py.
"""

from __future__ import annotations

from typing import Optional

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import Rule, State
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rules.add_constraint_validating import (
    validate_message,
)

RULE = Rule(
    "add_foreign_key_blocking",
    ("postgresql",),
    "adds a FOREIGN KEY validated while both tables are locked against writes",
    (
        "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in a separate "
        "transaction or later migration."
    ),
    lock_only=True,
)

EVENTS = (ev.AddConstraint, ev.ValidateConstraint, ev.AddColumn)


def check(event: ev.Event, state: State) -> Optional[Finding]:
    if state.small(getattr(event, "table", None)):
        return None
    if isinstance(event, ev.AddConstraint):
        if event.kind != "fk" or event.not_valid or state.dialect != "postgresql":
            return None
        return state.finding(
            RULE,
            event,
            "ADD FOREIGN KEY on %s without NOT VALID blocks writes to %s and the referenced table while it "
            "validates" % (event.table, event.table),
        )
    if isinstance(event, ev.ValidateConstraint):
        if event.kind != "fk" or not event.same_transaction:
            return None
        return state.finding(RULE, event, validate_message(event))
    if isinstance(event, ev.AddColumn):
        if not event.references or state.dialect != "postgresql" or event.via_rebuild:
            return None
        return state.finding(
            RULE,
            event,
            "adds column %s with an inline REFERENCES: the foreign key is validated while %s and the referenced "
            "table are locked" % (event.column, event.table),
        )
    return None
