# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``invalid_waiver``: its dialects, why it is a hazard, the expand/contract remedy, and the decision.

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
    "invalid_waiver",
    ALL,
    "a zerodown:waive comment without a known rule id or without a reason; it waives nothing",
    "Write: -- zerodown:waive <rule>[, <rule>] reason: <why this is safe here>.",
)

EVENTS = ()


def check(event: ev.Event, state: State) -> Optional[Finding]:
    """Never from an event: ``_sql_safety`` reports a waiver it cannot apply."""
    return None
