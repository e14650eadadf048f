# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the reader's handlers of SQLite-style rebuilds."""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Set

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import TableInfo, unknown_fact
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.parse import (
    Ctx,
    Cursor,
    Piece,
    expr_columns,
    expr_source,
    first_name,
    split_top,
    type_change_kind,
    unquote_name,
)


class RebuildHandlers:
    def _prescan(self, pieces: List[Piece]) -> None:
        """Find SQLite-style rebuilds: DROP TABLE x ... ALTER TABLE <new> RENAME TO x."""
        created: Set[str] = set()
        dropped: Set[str] = set()
        for piece in pieces:
            head = piece.masked[:400]
            m = re.match(r"\s*CREATE\s+(?:TEMP\w*\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([^\s(]+)", head, re.I)
            if m:
                name = unquote_name(m.group(1))
                created.add(name)
                if name in dropped:
                    self.recreated.add(name)
                continue
            m = re.match(r"\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?([^\s;,]+)", head, re.I)
            if m:
                dropped.add(unquote_name(m.group(1)))
                continue
            m = re.match(r"\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?([^\s]+)\s+RENAME\s+TO\s+([^\s;]+)", head, re.I)
            if m:
                new, old = unquote_name(m.group(1)), unquote_name(m.group(2))
                if new in created:
                    self.rebuild_targets[old] = new

    def insert(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        """INSERT is safe. INSERT ... SELECT is remembered: it shows which columns a table has (rebuilds)."""
        cur.i += 1
        while cur.accept_any("INTO", "IGNORE", "OR", "REPLACE", "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY"):
            pass
        target = cur.name()
        if target is None:
            return
        cols: List[str] = []
        if cur.punct() == "(":
            cols = [n for n in (first_name(p) for p in split_top(cur.skip_group())) if n]
        if not cur.accept("SELECT"):
            return
        cur.accept("DISTINCT")
        start = cur.i
        while not cur.at_end() and cur.word() != "FROM":
            if cur.punct() == "(":
                cur.skip_group()
            else:
                cur.i += 1
        sel_toks = cur.t[start : cur.i]
        if not cur.accept("FROM"):
            return
        source = cur.name()
        if not source:
            return
        parts = split_top(sel_toks)
        exprs = [expr_source(e) for e in parts]
        reads = self.reads.setdefault(source, set())
        for e in parts:
            reads.update(expr_columns(e))
        if target in self.created_tables:
            self.copies[target] = (source, cols, exprs)
            pending = self.recreate_pending.get(target)
            if pending is not None and source in self.created_tables:
                del self.recreate_pending[target]
                self.finish_rebuild(target, target, pending[1], pending[0], via=source)

    def finish_rebuild(self, old: str, new: str, text: str, ctx: Ctx, via: Optional[str] = None) -> None:
        """SQLite-style rebuild: judged by what the new definition changes, not as a drop and a rename.

        The old columns are the catalog's (earlier files, schema-aware mode) or else those the file reads from the
        old table; a column read but not carried over is dropped, one copied under another name renamed, a CAST
        changes its type, COALESCE into a NOT NULL column sets NOT NULL, a new NOT NULL column needs a default.
        """
        cols = self.table_defs.get(new, [])
        if via is None:
            self.created_tables.discard(old)
            self.created_tables.discard(new)
            prior = self.catalog_before.get(old)
        else:
            # copy-out/copy-back (Rails): the temporary copy was made with the table's current definition
            prior = TableInfo(old)
            for c in self.table_defs.get(via, []):
                prior.columns[c.name] = c.info()
        copy = self.copies.get(new)
        if copy is None or copy[0] not in (old, via):
            self.emit(ev.DropTable(table=old, how="replace", new_name=new, **self.at(ctx, text)))
            return
        target_cols, exprs = copy[1], copy[2]
        by_name = {c.name: c for c in cols}
        if len(exprs) == 1 and exprs[0][1] == "*":
            names = list(prior.columns) if prior is not None else [c.name for c in cols]
            exprs = [("col", n) for n in names]
            target_cols = [c.name for c in cols][: len(names)]
        if not target_cols:
            target_cols = [c.name for c in cols][: len(exprs)]
        mapping = dict(zip(target_cols, exprs))
        old_cols = set(prior.columns) if prior is not None else set(self.reads.get(old, set()))
        old_cols |= self.declared_drops.get(old, set())
        sources = {src for _kind, src in mapping.values() if src}
        at = self.at(ctx, text)
        source = prior.source if prior is not None else ""
        changes: List[ev.Event] = []
        for tcol, (kind, src) in mapping.items():
            ncol = by_name.get(tcol)
            pcol = prior.columns.get(src or "") if prior is not None else None
            if src and src != tcol and tcol not in old_cols:
                changes.append(ev.RenameColumn(table=old, old=src, new=tcol, via="rebuild", **at))
            if kind == "cast":
                changes.append(ev.AlterType(table=old, column=src or "", via="rebuild_cast", **at))
            elif pcol is not None and ncol is not None and pcol.type and ncol.type:
                changes.append(
                    ev.AlterType(
                        table=old,
                        column=tcol,
                        old_type=pcol.type,
                        new_type=ncol.type,
                        change=type_change_kind("sqlite", pcol.type, ncol.type),
                        via="rebuild",
                        **at,
                    )
                )
            if ncol is not None and ncol.not_null:
                if kind == "coalesce" and not (pcol is not None and pcol.not_null):
                    changes.append(ev.SetNotNull(table=old, column=tcol, via="rebuild_coalesce", **at))
                elif kind == "col" and pcol is not None and not pcol.not_null and ncol.not_null:
                    changes.append(ev.SetNotNull(table=old, column=tcol, via="rebuild", **at))
                elif kind == "expr" and not ncol.fills_itself:
                    changes.append(ev.AddColumn(table=old, column=tcol, not_null=True, via_rebuild=True, **at))
            if pcol is not None and ncol is not None:
                if (pcol.unique or pcol.primary_key) and not (ncol.unique or ncol.primary_key):
                    changes.append(ev.UniquenessChange(table=old, column=tcol, dropped=True, **at))
                if ncol.unique and not (pcol.unique or pcol.primary_key):
                    changes.append(ev.UniquenessChange(table=old, column=tcol, **at))
        for c in cols:
            if c.name not in mapping and c.not_null and not c.fills_itself and not c.primary_key:
                changes.append(ev.AddColumn(table=old, column=c.name, not_null=True, via_rebuild=True, **at))
        for gone in sorted(old_cols - sources):
            if self.dialect == "sqlite" and gone in by_name and by_name[gone].primary_key:
                continue  # an INTEGER PRIMARY KEY left out of the copy is the rowid, assigned anew: not a drop
            changes.append(ev.DropColumn(table=old, column=gone, via_rebuild=True, **at))
        made = []
        for change in changes:
            for field_name in ("old_definition_source", "column_source"):
                if hasattr(change, field_name):
                    setattr(change, field_name, source)
            made += self.emit(change)
        if prior is None and not made:
            self.undetermined(
                ctx,
                text,
                "table %s is rebuilt (create, copy, drop, rename), so a column the file never mentions could have "
                "been dropped%s" % (old, unknown_fact("undetermined", "its old definition")),
                changes_existing=False,
            )
        tinfo = TableInfo(old, source=self.source)
        for c in cols:
            tinfo.columns[c.name] = c.info()
            tinfo.columns[c.name].source = self.source
        self.catalog.tables[old] = tinfo

    catalog_before: Dict[str, TableInfo] = {}
