# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the reader's handlers of SQLite-style rebuilds (create a new table,
copy with INSERT ... SELECT, drop the old one, rename), judged by what the new definition changes.

A mixin of ``_sql/reader.py``'s ``Analyzer``: it reads the statement with ``_sql/parse.py``, keeps the
file's state in the analyzer and emits its events (``self.emit``); it decides no hazard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Set, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import ColumnInfo, TableInfo, unknown_fact
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.parse import (
    ColumnDef,
    Ctx,
    Cursor,
    Piece,
    expr_columns,
    expr_source,
    parse_insert_select,
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
        stmt = parse_insert_select(cur)
        if stmt is None:
            return
        exprs = [expr_source(e) for e in stmt.select_list]
        reads = self.reads.setdefault(stmt.source, set())
        for e in stmt.select_list:
            reads.update(expr_columns(e))
        if stmt.target in self.created_tables:
            self.copies[stmt.target] = (stmt.source, stmt.columns, exprs)
            pending = self.recreate_pending.get(stmt.target)
            if pending is not None and stmt.source in self.created_tables:
                del self.recreate_pending[stmt.target]
                self.finish_rebuild(stmt.target, stmt.target, pending[1], pending[0], via=stmt.source)

    def finish_rebuild(self, old: str, new: str, text: str, ctx: Ctx, via: Optional[str] = None) -> None:
        """SQLite-style rebuild: judged by what the new definition changes, not as a drop and a rename.

        The old columns are the catalog's (earlier files, schema-aware mode) or else those the file reads from the
        old table; a column read but not carried over is dropped, one copied under another name renamed, a CAST
        changes its type, COALESCE into a NOT NULL column sets NOT NULL, a new NOT NULL column needs a default.
        """
        cols = self.table_defs.get(new, [])
        prior = self.rebuilt_from(old, new, via)
        copy = self.copies.get(new)
        if copy is None or copy[0] not in (old, via):
            self.emit(ev.DropTable(table=old, how="replace", new_name=new, **self.at(ctx, text)))
            return
        mapping = _copied_columns(copy[1], copy[2], cols, prior)
        old_cols = set(prior.columns) if prior is not None else set(self.reads.get(old, set()))
        old_cols |= self.declared_drops.get(old, set())
        made = []
        for change in self.rebuild_changes(old, cols, prior, mapping, old_cols, self.at(ctx, text)):
            for field_name in ("old_definition_source", "column_source"):
                if hasattr(change, field_name):
                    setattr(change, field_name, prior.source if prior is not None else "")
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

    def rebuilt_from(self, old: str, new: str, via: Optional[str]) -> Optional[TableInfo]:
        """The old definition of a rebuilt table, None when nothing knows it."""
        if via is None:
            self.created_tables.discard(old)
            self.created_tables.discard(new)
            return self.catalog_before.get(old)
        # copy-out/copy-back (Rails): the temporary copy was made with the table's current definition
        prior = TableInfo(old)
        for c in self.table_defs.get(via, []):
            prior.columns[c.name] = c.info()
        return prior

    def rebuild_changes(
        self,
        table: str,
        cols: List[ColumnDef],
        prior: Optional[TableInfo],
        mapping: Dict[str, Tuple[str, Optional[str]]],
        old_cols: Set[str],
        at: Dict[str, object],
    ) -> List[ev.Event]:
        """What the rebuild changes, column by column, as the events of the same changes made by ALTER TABLE."""
        by_name = {c.name: c for c in cols}
        changes: List[ev.Event] = []
        for tcol, (kind, src) in mapping.items():
            pcol = prior.columns.get(src or "") if prior is not None else None
            copied = _CopiedColumn(tcol, kind, src, by_name.get(tcol), pcol)
            changes += _copied_column_changes(table, copied, old_cols, at)
        for c in cols:
            if c.name not in mapping and c.not_null and not c.fills_itself and not c.primary_key:
                changes.append(ev.AddColumn(table=table, column=c.name, not_null=True, via_rebuild=True, **at))
        sources = {src for _kind, src in mapping.values() if src}
        for gone in sorted(old_cols - sources):
            if self.dialect == "sqlite" and gone in by_name and by_name[gone].primary_key:
                continue  # an INTEGER PRIMARY KEY left out of the copy is the rowid, assigned anew: not a drop
            changes.append(ev.DropColumn(table=table, column=gone, via_rebuild=True, **at))
        return changes

    catalog_before: Dict[str, TableInfo] = {}


@dataclass
class _CopiedColumn:
    """A column of the rebuilt table and how the copy fills it."""

    name: str
    kind: str  # col (copied as it is) | coalesce | cast | expr (anything else)
    source: Optional[str]  # the old column it is copied from
    new: Optional[ColumnDef]  # its definition in the new table
    prior: Optional[ColumnInfo]  # the old column's definition, where known


def _copied_columns(
    target_cols: List[str], exprs: List[Tuple[str, Optional[str]]], cols: List[ColumnDef], prior: Optional[TableInfo]
) -> Dict[str, Tuple[str, Optional[str]]]:
    """New column -> (how the INSERT ... SELECT fills it, the old column it reads); SELECT * copies by position."""
    if len(exprs) == 1 and exprs[0][1] == "*":
        names = list(prior.columns) if prior is not None else [c.name for c in cols]
        exprs = [("col", n) for n in names]
        target_cols = [c.name for c in cols][: len(names)]
    if not target_cols:
        target_cols = [c.name for c in cols][: len(exprs)]
    return dict(zip(target_cols, exprs))


def _copied_column_changes(table: str, copied: _CopiedColumn, old_cols: Set[str], at: Dict[str, Any]) -> List[ev.Event]:
    tcol, src, ncol, pcol = copied.name, copied.source, copied.new, copied.prior
    changes: List[ev.Event] = []
    if src and src != tcol and tcol not in old_cols:
        changes.append(ev.RenameColumn(table=table, old=src, new=tcol, via="rebuild", **at))
    changes += _type_changes(table, copied, at)
    if ncol is not None and ncol.not_null:
        changes += _not_null_changes(table, copied, at)
    if pcol is not None and ncol is not None:
        changes += _uniqueness_changes(table, tcol, pcol, ncol, at)
    return changes


def _not_null_changes(table: str, copied: _CopiedColumn, at: Dict[str, Any]) -> List[ev.Event]:
    """A NOT NULL column of the new table: filled from a nullable column, or by an expression with no default."""
    kind, pcol, ncol = copied.kind, copied.prior, copied.new
    if kind == "coalesce" and not (pcol is not None and pcol.not_null):
        return [ev.SetNotNull(table=table, column=copied.name, via="rebuild_coalesce", **at)]
    if kind == "col" and pcol is not None and not pcol.not_null and ncol.not_null:
        return [ev.SetNotNull(table=table, column=copied.name, via="rebuild", **at)]
    if kind == "expr" and not ncol.fills_itself:
        return [ev.AddColumn(table=table, column=copied.name, not_null=True, via_rebuild=True, **at)]
    return []


def _type_changes(table: str, copied: _CopiedColumn, at: Dict[str, Any]) -> List[ev.Event]:
    pcol, ncol = copied.prior, copied.new
    if copied.kind == "cast":
        return [ev.AlterType(table=table, column=copied.source or "", via="rebuild_cast", **at)]
    if pcol is not None and ncol is not None and pcol.type and ncol.type:
        change = type_change_kind("sqlite", pcol.type, ncol.type)
        return [
            ev.AlterType(
                table=table,
                column=copied.name,
                old_type=pcol.type,
                new_type=ncol.type,
                change=change,
                via="rebuild",
                **at,
            )
        ]
    return []


def _uniqueness_changes(
    table: str, column: str, pcol: ColumnInfo, ncol: ColumnDef, at: Dict[str, Any]
) -> List[ev.Event]:
    changes: List[ev.Event] = []
    if (pcol.unique or pcol.primary_key) and not (ncol.unique or ncol.primary_key):
        changes.append(ev.UniquenessChange(table=table, column=column, dropped=True, **at))
    if ncol.unique and not (pcol.unique or pcol.primary_key):
        changes.append(ev.UniquenessChange(table=table, column=column, **at))
    return changes
