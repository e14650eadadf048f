# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the reader's handlers of data changes (DELETE, UPDATE, TRUNCATE),
locks, WITH, and the maintenance commands that rebuild a table (VACUUM FULL, CLUSTER, REINDEX, ...).

A mixin of ``_sql/reader.py``'s ``Analyzer``: it reads the statement with ``_sql/parse.py``, keeps the
file's state in the analyzer and emits its events (``self.emit``); it decides no hazard.
"""

from __future__ import annotations

from typing import List

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.lexer import Token
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.parse import (
    Ctx,
    Cursor,
    first_name,
    split_top,
    tautology,
    top_words,
    words_of,
)


class DataHandlers:
    # ---- data

    def truncate(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        cur.i += 1
        cur.accept("TABLE")
        cur.accept("ONLY")
        tables = [first_name(p) for p in split_top(cur.rest())]
        old = [t for t in tables if t and not self.is_new(t)]
        if old:
            self.emit(ev.DataWide(table=old[0], verb="truncate", **self.at(ctx, text)))

    def delete(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        cur.i += 1
        while cur.accept_any("LOW_PRIORITY", "QUICK", "IGNORE"):
            pass
        if cur.word() != "FROM":
            cur.name()  # mysql multi-table: DELETE t1 FROM ...
        cur.accept("FROM")
        cur.accept("ONLY")
        table = cur.name()
        if self.is_new(table):
            return
        self.emit(
            ev.DataWide(table=table or "", verb="delete", filtered=self.filtered(cur.rest()), **self.at(ctx, text))
        )

    def update(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        cur.i += 1
        while cur.accept_any("LOW_PRIORITY", "IGNORE", "OR", "ROLLBACK", "ABORT", "REPLACE", "FAIL"):
            pass
        cur.accept("ONLY")
        table = cur.name()
        if self.is_new(table):
            return
        self.emit(
            ev.DataWide(table=table or "", verb="update", filtered=self.filtered(cur.rest()), **self.at(ctx, text))
        )

    def filtered(self, toks: List[Token]) -> bool:
        top = top_words(toks)
        words = [w for _i, w in top]
        if "LIMIT" in words or ("JOIN" in words and "ON" in words) or "USING" in words:
            return True
        idx = next((i for i, w in top if w == "WHERE"), None)
        if idx is None:
            return False
        cond = []
        for tok in toks[idx + 1 :]:
            if tok.kind == "w" and tok.v in ("RETURNING", "ORDER", "LIMIT"):
                break
            cond.append(tok)
        return not tautology(cond)

    # ---- locks

    def lock(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        cur.i += 1
        cur.accept_any("TABLE", "TABLES")
        cur.accept("ONLY")
        names = [first_name(p) for p in split_top(cur.rest())]
        if all(self.is_new(n) for n in names if n):
            return
        words = words_of(cur.rest())
        mode = ""
        if "MODE" in words and "IN" in words:
            mode = " ".join(words[words.index("IN") + 1 : words.index("MODE")])
        self.emit(ev.LockTable(tables=tuple(n for n in names if n), mode=mode, **self.at(ctx, text)))

    # ---- WITH

    def with_query(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        cur.i += 1
        cur.accept("RECURSIVE")
        while not cur.at_end():
            cur.name()
            if cur.punct() == "(":
                cur.skip_group()
            cur.accept("AS")
            cur.accept("NOT")
            cur.accept("MATERIALIZED")
            inner = cur.skip_group()
            if inner and inner[0].kind == "w" and inner[0].v in ("UPDATE", "DELETE"):
                self.classify(list(inner), text, ctx)
            if not cur.accept_punct(","):
                break
        if not cur.at_end():
            self.classify(cur.rest(), text, ctx)

    # ---- maintenance

    def maintenance(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        """VACUUM FULL, CLUSTER, REFRESH MATERIALIZED VIEW, OPTIMIZE rebuild a table; REINDEX rebuilds indexes."""
        toks = cur.t
        w = cur.word()
        if w == "REINDEX":
            concurrently = "CONCURRENTLY" in words_of(toks)
            self.emit(ev.CreateIndex(reindex=True, concurrently=concurrently, **self.at(ctx, text)))
            return
        how = {"CLUSTER": "cluster", "OPTIMIZE": "optimize"}.get(w, "")
        if w == "VACUUM" and (
            "FULL" in [t.v for t in toks[1:4] if t.kind == "w"] or cur.punct(1) == "(" and "FULL" in words_of(toks)
        ):
            how = "vacuum_full"
        elif w == "REFRESH" and "CONCURRENTLY" not in words_of(toks):
            how = "refresh_mv"
        if how:
            self.emit(ev.TableRebuild(how=how, **self.at(ctx, text)))
