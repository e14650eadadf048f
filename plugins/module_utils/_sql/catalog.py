# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: what migration_check knows of the schema before a file runs.

Filled from the live database (schema-aware mode, ``_schema_catalog``), from the files of the migrations
directory that already ran (the history, replayed), and by the files being checked; every fact keeps its source,
which the findings that rest on it name.
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Set, Tuple

# Where a fact came from: ``live`` (schema_dsn), ``history:<file>`` (an applied file replayed), ``file:<file>`` (a
# file checked in this run: the same file, or an earlier pending one). Findings that rest on a fact name it.
LIVE = "live"


def describe_source(source: str, current_path: str = "") -> str:
    """The source of a fact, in words, seen from the file being checked."""
    kind, _sep, where = source.partition(":")
    name = os.path.basename(where)
    if kind == "history":
        return "the migration history (%s)" % name
    if kind == "file":
        return "this file" if where == current_path else "earlier pending file %s" % name
    if kind == LIVE:
        return "the live schema (schema_dsn)"
    return "an earlier file"


# Three-valued knowledge (docs/architecture.md, migration rules): an object is known present (with its kind), known
# absent, or unknown. Known absent needs a source that sees the whole schema: the live schema (schema_dsn), or a
# history whose replay started from an empty schema (``Catalog.history_complete``). Anything else a file does not
# create is unknown, and a rule facing it assumes the worst case the statement allows; its finding ends with this.
SETTLE = (
    "replay the migration history from the first migration, give schema_dsn, or waive %s with a reason once you "
    "know it is safe"
)


def unknown_fact(rule_id: str, fact: str) -> str:
    """The tail of a finding that rests on a worst case: which fact was unknown and how to settle it."""
    return (
        "; %s is known to neither this file, the migration history nor the live schema, so the worst case is "
        "assumed (%s)" % (fact, SETTLE % rule_id)
    )


class ColumnInfo:
    __slots__ = ("name", "type", "not_null", "has_default", "unique", "primary_key", "source")

    def __init__(
        self,
        name: str,
        type_: str = "",
        not_null: bool = False,
        has_default: bool = False,
        unique: bool = False,
        primary_key: bool = False,
        source: str = "",
    ) -> None:
        self.name = name
        self.type = type_
        self.not_null = not_null
        self.has_default = has_default
        self.unique = unique
        self.primary_key = primary_key
        self.source = source

    def copy(self) -> ColumnInfo:
        return ColumnInfo(
            self.name, self.type, self.not_null, self.has_default, self.unique, self.primary_key, self.source
        )


class TableInfo:
    __slots__ = ("name", "columns", "row_count", "source")

    def __init__(self, name: str, row_count: Optional[int] = None, source: str = "") -> None:
        self.name = name
        self.columns: Dict[str, ColumnInfo] = {}
        self.row_count = row_count
        self.source = source

    def rename_column(self, old: str, new: str) -> None:
        """Rename a column where it stands: the column order is what an SQLite rebuild's ``SELECT *`` copies."""
        column = self.columns[old]
        column.name = new
        self.columns = {(new if name == old else name): info for name, info in self.columns.items() if name != new}


class Catalog:
    """What is known of the schema before a file runs.

    ``authoritative`` (schema-aware mode) means a table missing here does not
    exist in the database, so statements on it concern a table created by a
    pending migration that no old version uses.
    """

    def __init__(self, authoritative: bool = False, pending_known: bool = False) -> None:
        self.tables: Dict[str, TableInfo] = {}
        self.unique_indexes: Set[str] = set()
        self.indexes: Dict[str, str] = {}  # index or constraint name -> source, for every one whose kind is known
        # table -> CHECK constraint name -> (the column it proves NOT NULL, or "", validated)
        self.checks: Dict[str, Dict[str, Tuple[str, bool]]] = {}
        self.views: Set[str] = set()
        self.authoritative = authoritative
        # pending_known: the files checked in this run have not run yet (the caller knows the applied ones), so a
        # table one of them creates is new to the old version in the later ones too
        self.pending_known = pending_known
        self.new_tables: Set[str] = set()
        # how many applied files were replayed into it
        self.replayed = 0
        # the replay started from an empty schema (the first replayed file touched nothing it did not create, see
        # ``note_replayed``): the history covers every object's whole life, so an object it does not hold is known
        # absent. Callers that know better (a history they know starts at the first migration) may set it.
        self.history_complete = False

    def note_replayed(self, touched_prior: bool) -> None:
        """One more applied file was replayed; ``touched_prior``: it changed or read an object it did not create.

        Conservative: the history is complete only when its first file ran against an empty catalog and touched
        nothing it had not created itself (no ALTER, DROP, index, data change or unreadable statement on an older
        object). A directory whose first file alters a table from before (a squashed or adopted project) leaves
        every object the files do not create unknown.
        """
        if self.replayed == 0:
            self.history_complete = not touched_prior and not self.authoritative
        self.replayed += 1

    def knows_absence(self) -> bool:
        """Does a missing entry mean the object does not exist (live schema, or a history from an empty schema)?"""
        return self.authoritative or self.history_complete

    def merge_history(self, history: Catalog) -> None:
        """Add what only the replayed history knows; the live schema (this catalog) wins where both know a fact."""
        for table, checks in history.checks.items():
            if table in self.tables:
                self.checks.setdefault(table, {}).update(
                    {k: v for k, v in checks.items() if k not in self.checks.get(table, {})}
                )
        for name, source in history.indexes.items():
            if name not in self.indexes:
                self.indexes[name] = source

    def table(self, name: str) -> Optional[TableInfo]:
        return self.tables.get(name)

    def column(self, table: str, column: str) -> Optional[ColumnInfo]:
        t = self.tables.get(table)
        return t.columns.get(column) if t else None

    def known_to_history(self, table: str) -> bool:
        """Does a table of this name (with or without its schema) appear in what the replayed files built?"""
        bare = table.rsplit(".", 1)[-1]
        return any(name == table or name.rsplit(".", 1)[-1] == bare for name in self.tables)

    def exists(self, table: str) -> Optional[bool]:
        """True (known present), False (known absent: live schema only, see below) or None (unknown).

        A complete history makes a table it does not hold absent for ``DROP ... IF EXISTS`` (reader), but a
        statement that alters or reads such a table is still judged as on an existing one: the application may
        create tables at run time, which no migration file shows.
        """
        if table in self.tables:
            return True
        return False if self.authoritative else None

    def index_kind(self, name: str) -> Optional[str]:
        """``unique`` or ``plain`` for an index or constraint whose kind is known, None when it is unknown."""
        if name in self.unique_indexes:
            return "unique"
        if name in self.indexes:
            return "plain"
        # the live schema lists every unique index (and PostgreSQL names a UNIQUE / PRIMARY KEY constraint after
        # its index): a name it does not list is not unique
        return "plain" if self.authoritative else None
