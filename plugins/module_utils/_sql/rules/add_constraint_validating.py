# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``add_constraint_validating``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

The spec is docs/architecture.md (migration rules); its cases are the spec-corpus files that list it
(tests/corpus/migrations/*/expected.yml: ``rules:`` for the unsafe forms, ``safe_for:`` for their safe twins),
asserted by test_sql_safety_corpus.py.
"""

from __future__ import annotations

from typing import Optional

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import Rule, State

RULE = Rule(
    "add_constraint_validating",
    ("postgresql",),
    (
        "adds a CHECK constraint that is validated under an ACCESS EXCLUSIVE lock (full scan while "
        "the old version waits)"
    ),
    ("ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in a separate transaction or later migration."),
    lock_only=True,
)

EVENTS = (ev.AddConstraint, ev.ValidateConstraint, ev.AddColumn)


def check(event: ev.Event, state: State) -> Optional[Finding]:
    if isinstance(event, ev.AddConstraint):
        if event.kind == "domain":
            return state.finding(RULE, event, "ALTER DOMAIN ADD CONSTRAINT checks every column")
        if event.kind not in ("check", "fk") or event.not_valid or state.small(event.table):
            return None
        if state.dialect != "postgresql":
            return None
        if event.kind == "check":
            message = "ADD CHECK on %s without NOT VALID scans the whole table under an ACCESS EXCLUSIVE lock"
        else:
            message = "ADD FOREIGN KEY on %s without NOT VALID scans every row under the lock"
        return state.finding(RULE, event, message % event.table)
    if isinstance(event, ev.ValidateConstraint):
        if not event.same_transaction or state.small(event.table):
            return None
        return state.finding(RULE, event, validate_message(event))
    if isinstance(event, ev.AddColumn):
        if not event.check or state.dialect != "postgresql" or state.small(event.table):
            return None
        return state.finding(
            RULE,
            event,
            "adds column %s with an inline CHECK, validated by a full scan under ACCESS EXCLUSIVE" % event.column,
        )
    return None


def validate_message(event: ev.ValidateConstraint) -> str:
    """Also add_foreign_key_blocking's words for a VALIDATE of a foreign key in the same transaction."""
    return (
        "VALIDATE CONSTRAINT %s runs in the same transaction as the ADD ... NOT VALID, so the table stays locked "
        "during the full validation scan; validate in a separate transaction" % event.name
    )
