# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: what a migration_check rule is.

One rule, one file: ``_sql/rules/<rule_id>.py`` holds its id, the dialects it applies to, why it is a hazard
(the finding's default message) and the expand/contract remedy; ``_sql/registry.py`` lists them.
"""

from __future__ import annotations

from typing import Sequence

DIALECTS = ("postgresql", "mysql", "sqlite")
ALL = DIALECTS

CONTRACT_LATER = (
    "in a later contract migration (a file marked -- zerodown:contract, run by contract.yml once no host runs the "
    "old version)"
)


class Rule:
    """A hazard of design.md section 4. ``lock_only``: it only describes lock duration, so a tiny table
    (schema-aware mode, small_table_rows) makes it harmless."""

    __slots__ = ("id", "dialects", "summary", "remedy", "lock_only")

    def __init__(self, rule_id: str, dialects: Sequence[str], summary: str, remedy: str, lock_only: bool = False):
        self.id = rule_id
        self.dialects = tuple(dialects)
        self.summary = summary
        self.remedy = remedy
        self.lock_only = lock_only

    def __repr__(self) -> str:
        return "Rule(%r)" % (self.id,)
