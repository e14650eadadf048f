# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the reader's CREATE handlers (tables, indexes, routines, views, schemas).

A mixin of ``_sql/reader.py``'s ``Analyzer``: it reads the statement with ``_sql/parse.py``, keeps the
file's state in the analyzer and emits its events (``self.emit``); it decides no hazard.
"""

from __future__ import annotations

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import TableInfo
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.parse import (
    Ctx,
    Cursor,
    TableBody,
    parse_table_body,
    top_words,
)


class CreateHandlers:
    # ---- CREATE

    def create(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        cur.i += 1
        self.or_replace = cur.accept("OR", "REPLACE")
        while cur.accept_any("GLOBAL", "LOCAL", "TEMP", "TEMPORARY", "UNLOGGED", "DEFINER", "ALGORITHM", "SQL"):
            if cur.accept_punct("="):
                cur.name()
                if cur.punct() == "@":
                    cur.i += 1
                    cur.name()
            cur.accept("SECURITY", "DEFINER") or cur.accept("SECURITY", "INVOKER")
        w = cur.word()
        if w == "TABLE":
            self.create_table(cur, text, ctx)
        elif w in ("UNIQUE", "INDEX") or (w in ("FULLTEXT", "SPATIAL") and cur.word(1) == "INDEX"):
            self.create_index(cur, text, ctx)
        elif w in ("FUNCTION", "PROCEDURE"):
            self.create_routine(cur, text, ctx)
        elif w in ("VIEW", "SCHEMA", "DATABASE", "MATERIALIZED", "RECURSIVE"):
            self.create_view_or_schema(cur, w)
        # else: sequences, types, extensions, triggers, roles ... add things

    def create_routine(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        """Remember a function's or procedure's body: a CALL or SELECT of it later in the file runs it."""
        cur.i += 1
        name = cur.name()
        body = next((t for t in cur.rest() if t.kind == "d"), None)
        if name and body is not None:
            self.routines[name] = (body.v, ctx.start + body.off)
        elif name:
            # MySQL / SQL-standard body: everything from the first BEGIN at depth 0
            rest = cur.rest()
            for i, word in top_words(rest):
                if word in ("BEGIN", "RETURN"):
                    self.routines[name] = (text[rest[i].off :], ctx.start + rest[i].off)
                    break

    def create_view_or_schema(self, cur: Cursor, w: str) -> None:
        while cur.accept_any("MATERIALIZED", "RECURSIVE", "VIEW", "SCHEMA", "DATABASE"):
            pass
        cur.accept("IF", "NOT", "EXISTS")
        name = cur.name()
        if name:
            self.created_objects.add(name)
            if w in ("VIEW", "MATERIALIZED", "RECURSIVE"):
                self.catalog.views.add(name)

    def create_table(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        cur.i += 1
        if_not_exists = cur.accept("IF", "NOT", "EXISTS")
        name = cur.name()
        if name is None:
            self.unparsed(ctx, text, cur.t)
            return
        if if_not_exists and self.known_present(name):
            # the table is there already (the history or the live schema holds it): the statement does nothing,
            # and what the file does to it next is done to the old version's table, not to a new one
            return
        if name in self.recreate_pending and self.recreate_pending[name] is None:
            self.recreate_pending[name] = (ctx, text)
        elif self.or_replace and not self.is_new(name):
            self.emit(ev.DropTable(table=name, how="or_replace", **self.at(ctx, text)))
        self.created_tables.add(name)
        if self.catalog.pending_known and self.source.startswith("file:"):
            self.catalog.new_tables.add(name)
        info = TableInfo(name, source=self.source)
        body = parse_table_body(cur.skip_group()) if cur.punct() == "(" else TableBody()
        for part in body.constraints:
            self.remember_constraint(name, part, validated=True)
        cols = body.columns
        for c in cols:
            info.columns[c.name] = c.info()
            info.columns[c.name].source = self.source
            self.remember_column_constraints(name, c)
        self.table_defs[name] = cols
        if not (self.catalog.authoritative and name in self.catalog.tables and name not in self.rebuilt):
            self.catalog.tables[name] = info

    def create_index(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        unique = bool(cur.accept("UNIQUE"))
        cur.accept_any("FULLTEXT", "SPATIAL")
        cur.accept("INDEX")
        concurrently = bool(cur.accept("CONCURRENTLY"))
        if_not_exists = cur.accept("IF", "NOT", "EXISTS")
        index = None
        if cur.word() != "ON":
            index = cur.name()
        if if_not_exists and index and index in self.catalog.indexes:
            return  # the index exists (this file, the history or the live schema): the statement does nothing
        cur.accept_any("USING")  # mysql: CREATE INDEX i USING BTREE ON t
        if cur.word() not in ("ON",) and cur.word(1) == "ON":
            cur.i += 1
        if not cur.accept("ON"):
            self.unparsed(ctx, text, cur.t)
            return
        cur.accept("ONLY")
        table = cur.name()
        if index:
            self.created_indexes.add(index)
            self.catalog.indexes[index] = self.source
            if unique:
                self.created_unique_indexes.add(index)
                restored = self.unique_drops.pop(index, None)
                if restored is not None and restored in self.findings:
                    self.findings.remove(restored)  # dropped and re-created unique in one transaction: no gap
                    unique = False  # the data was unique under the old index already
                self.catalog.unique_indexes.add(index)
            else:
                self.catalog.unique_indexes.discard(index)
        if self.is_new(table) or table in self.rebuilt:
            return
        if self.dialect == "mysql":
            self.mysql_alter_options(table, cur.rest(), text, ctx)
        self.emit(
            ev.CreateIndex(
                table=table or "", index=index or "", unique=unique, concurrently=concurrently, **self.at(ctx, text)
            )
        )
