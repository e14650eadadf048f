# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: what a migration_check rule is.

One rule, one file: ``_sql/rules/<rule_id>.py`` holds its id, the dialects it applies to, why it is a hazard
(the finding's default message), the expand/contract remedy, the events it listens to (``EVENTS``, classes of
``_sql/events.py``) and the decision, ``check(event, state) -> Finding | None``; ``_sql/registry.py`` lists them
and sends each event to the rules that listen to it. What a rule may ask of ``state`` is ``State`` below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence

if TYPE_CHECKING:  # pragma: no cover - for the type hints of check() only
    from ansible_collections.zerodown.deploy.plugins.module_utils._sql.events import Event
    from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding

DIALECTS = ("postgresql", "mysql", "sqlite")
ALL = DIALECTS

CONTRACT_LATER = (
    "in a later contract migration (a file marked -- zerodown:contract, run by contract.yml once no host runs the "
    "old version)"
)


class Rule:
    """A hazard of docs/architecture.md (migration rules). ``lock_only``: it only describes lock duration, so a tiny table
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


class State:
    """What ``check(event, state)`` may read of the file being checked (implemented by the reader)."""

    dialect: str
    no_transaction: bool
    on_undetermined: str  # block | warn

    def small(self, table: Optional[str]) -> bool:  # pragma: no cover - interface
        """The live schema says the table has fewer rows than small_table_rows: lock hazards are harmless."""
        raise NotImplementedError

    def per(self, source: str) -> str:  # pragma: no cover - interface
        """' (per <source in words>)' for a finding resting on a known fact, or ''."""
        raise NotImplementedError

    def describe(self, source: str) -> str:  # pragma: no cover - interface
        """A fact's source in words, seen from the file being checked."""
        raise NotImplementedError

    def old_definition(self, source: str) -> str:  # pragma: no cover - interface
        """' (old definition from <source in words>)' for a finding on a rebuilt table, or ''."""
        raise NotImplementedError

    def finding(
        self, rule: Rule, event: Event, message: str = "", severity: str = "error"
    ) -> Optional[Finding]:  # pragma: no cover - interface
        """The rule's finding on this event (``message`` defaults to the rule's summary)."""
        raise NotImplementedError
