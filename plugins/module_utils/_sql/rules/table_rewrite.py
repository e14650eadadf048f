# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rule ``table_rewrite``: the dialects it applies to, why it is a hazard, and the expand/contract remedy.

The spec is design.md section 4; its cases are the spec-corpus files that list it
(tests/corpus/migrations/*/expected.yml: ``rules:`` for the unsafe forms, ``safe_for:`` for their safe twins),
asserted by test_sql_safety_corpus.py.
"""

from __future__ import annotations

from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import Rule

RULE = Rule(
    "table_rewrite",
    ("postgresql", "mysql"),
    (
        "rewrites or copies the whole table while the old version is blocked (PostgreSQL VACUUM FULL,"
        " CLUSTER, SET TABLESPACE, stored generated column; MySQL ALGORITHM=COPY, ENGINE/ROW_FORMAT "
        "change, OPTIMIZE, varchar widening across 255 bytes)"
    ),
    (
        "Do it online: PostgreSQL pg_repack or a new table filled in batches; MySQL "
        "ALGORITHM=INPLACE/INSTANT with LOCK=NONE, or gh-ost/pt-online-schema-change, outside the "
        "deploy."
    ),
    lock_only=True,
)
