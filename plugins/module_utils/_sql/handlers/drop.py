# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the reader's DROP handlers (tables, views, schemas, indexes).

A mixin of ``_sql/reader.py``'s ``Analyzer``: it reads the statement with ``_sql/parse.py``, keeps the
file's state in the analyzer and emits its events (``self.emit``); it decides no hazard.
"""

from __future__ import annotations

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.parse import (
    Ctx,
    Cursor,
    DropIndexStatement,
    first_name,
    parse_drop_index,
    split_top,
    words_of,
)

_NO_DATA_OBJECTS = frozenset(
    ("POLICY", "RULE", "EVENT", "CAST", "OPERATOR", "AGGREGATE", "COLLATION", "STATISTICS", "PUBLICATION")
)


class DropHandlers:
    # ---- DROP

    def drop(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        cur.i += 1
        cur.accept_any("TEMPORARY", "TEMP")
        w = cur.word()
        if w == "TABLE" or w == "TABLES":
            cur.i += 1
            if_exists = cur.accept("IF", "EXISTS")
            for part in split_top(cur.rest()):
                name = first_name(part)
                if name:
                    self.drop_table(name, if_exists, text, ctx)
        elif w in ("VIEW", "MATERIALIZED", "SCHEMA", "DATABASE"):
            self.drop_view_or_schema(cur, w, text, ctx)
        elif w == "INDEX":
            cur.i += 1
            self.drop_index(parse_drop_index(cur), text, ctx)
        elif w in ("FUNCTION", "PROCEDURE", "TRIGGER", "SEQUENCE", "TYPE", "DOMAIN", "EXTENSION"):
            if "CASCADE" in words_of(cur.rest()) and w in ("TYPE", "DOMAIN", "EXTENSION"):
                self.undetermined(
                    ctx, text, "DROP %s ... CASCADE also drops the columns that use it; drop those explicitly" % w, True
                )
        elif w not in _NO_DATA_OBJECTS:  # those remove no data or column the old version reads
            self.unparsed(
                ctx, text, cur.t, "DROP %s: not a table/column/view/index; review what still uses it" % (w or "?")
            )

    def drop_table(self, name: str, if_exists: bool, text: str, ctx: Ctx) -> None:
        if (
            if_exists
            and name in self.recreated
            and self.catalog.history_complete
            and not self.catalog.known_to_history(name)
        ):
            # the idempotent re-create of a table no applied migration made, and the history covers the
            # schema's whole life (it started from an empty one): the drop removes nothing the old
            # version's schema has (a table the application makes at run time would not be re-created).
            # With a partial history or none, IF EXISTS says the table may well exist: it is unknown.
            return
        if (name in self.rebuild_targets or name in self.recreated) and not self.is_new(name):
            self.rebuilt.add(name)
            if name in self.recreated:
                self.recreate_pending[name] = None
            return
        if self.is_new(name):
            self.created_tables.discard(name)
            return
        self.catalog.tables.pop(name, None)
        self.emit(ev.DropTable(table=name, **self.at(ctx, text)))

    def drop_view_or_schema(self, cur: Cursor, w: str, text: str, ctx: Ctx) -> None:
        while cur.accept_any("MATERIALIZED", "VIEW", "SCHEMA", "DATABASE"):
            pass
        cur.accept("IF", "EXISTS")
        names = [first_name(p) for p in split_top(cur.rest())]
        if names and all(n in self.created_objects for n in names if n):
            return
        first = next((n for n in names if n), "")
        if w in ("VIEW", "MATERIALIZED"):
            self.emit(ev.DropView(name=first, **self.at(ctx, text)))
        else:
            self.emit(ev.DropSchema(name=first, **self.at(ctx, text)))

    def drop_index(self, stmt: DropIndexStatement, text: str, ctx: Ctx) -> None:
        names = stmt.names
        old = [n for n in names if n and n not in self.created_indexes]
        kinds = {n: self.unique_name(n) for n in old}
        unique = [n for n in old if kinds[n] is not False]  # known unique, or unknown: the worst case
        known = {n: self.catalog.indexes.get(n, "") for n in unique if kinds[n]}
        for n in names:
            if n:
                self.catalog.indexes.pop(n, None)
                self.catalog.unique_indexes.discard(n)
        if not old or self.is_new(stmt.table):
            return
        self.drop_unique(
            ev.DropIndex(
                table=stmt.table or "",
                names=tuple(old),
                unique_names=tuple(unique),
                unique_source=known.get(unique[0], "") if unique else "",
                kind_unknown=tuple(n for n in unique if kinds[n] is None),
                concurrently=stmt.concurrently,
                **self.at(ctx, text),
            )
        )
