# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``add_unique_constraint``: the dialects it applies to, why it is a hazard, and the expand/contract remedy.

The spec is design.md section 4; its cases are the spec-corpus files that list it
(tests/corpus/migrations/*/expected.yml: ``rules:`` for the unsafe forms, ``safe_for:`` for their safe twins),
asserted by test_sql_safety_corpus.py.
"""

from __future__ import annotations

from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import ALL, Rule

RULE = Rule(
    "add_unique_constraint",
    ALL,
    ("adds a UNIQUE constraint: the index is built while writes wait, and old-version writes of duplicates fail"),
    (
        "PostgreSQL: CREATE UNIQUE INDEX CONCURRENTLY (outside a transaction), then ALTER TABLE ... "
        "ADD CONSTRAINT ... UNIQUE USING INDEX. MySQL/SQLite: make the new release write unique "
        "values and de-duplicate first; add the unique index once no old version runs."
    ),
)
