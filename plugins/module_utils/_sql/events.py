# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the typed events the reader makes of a migration's statements.

The division of work: the reader (``_sql/parse.py``, ``_sql/reader.py`` and its ``_sql/handlers``) knows the
grammar and the state (the catalog, what this file created, transactions, rebuilds in progress) and emits an event
for each change to an object the **old version can see** (a table or index created by this file or an earlier
pending one yields no event, a column added by this file is flagged ``new_column``). Each rule
(``_sql/rules/<rule_id>.py``) reads the facts of the events it listens to and decides, in its ``check(event,
state)``, whether the change is its hazard.

Every event carries where it stands (``line``, ``statement``) and, where a verdict rests on what was known
before the file, the source of that fact (``*_source``: ``file:<path>``, ``history:<file>`` or ``live``, see
``catalog.describe_source``; empty when nothing was known).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Tuple


@dataclass
class Event:
    statement: str  # the statement's text, as the front end cut it
    line: int  # its first line in the file
    ctx: Any = field(default=None, repr=False, compare=False)  # the reader's position record, for the finding


# ---- removals and renames


@dataclass
class DropTable(Event):
    table: str = ""
    # drop | or_replace | detach_partition | drop_partition | recreate (dropped and created again, rows not
    # copied back) | replace (a rebuild whose new table gets no rows of the old one)
    how: str = "drop"
    new_name: str = ""
    table_unknown: bool = False  # (recreate) nothing knew the table: DROP ... IF EXISTS of one that may exist


@dataclass
class DropColumn(Event):
    table: str = ""
    column: str = ""
    via_rebuild: bool = False  # an SQLite-style rebuild that does not carry the column over
    old_definition_source: str = ""


@dataclass
class DropView(Event):
    name: str = ""
    redefined: bool = False  # MySQL ALTER VIEW v AS ...: columns may go


@dataclass
class DropSchema(Event):
    name: str = ""
    renamed: bool = False


@dataclass
class RenameTable(Event):
    old: str = ""
    new: str = ""
    kind: str = "table"  # table | view
    moved_schema: bool = False  # SET SCHEMA


@dataclass
class RenameColumn(Event):
    table: str = ""
    old: str = ""
    new: str = ""
    via: str = "rename"  # rename | change (MySQL CHANGE) | view | rebuild
    old_definition_source: str = ""


# ---- tightening


@dataclass
class AddColumn(Event):
    """A column added to an existing table (ADD COLUMN), or one a rebuild brings in."""

    table: str = ""
    column: str = ""
    not_null: bool = False
    fills_itself: bool = False  # a default, serial, identity or generated value
    primary_key: bool = False
    unique: bool = False
    references: bool = False
    check: bool = False
    generated_stored: bool = False  # a stored generated column (every PostgreSQL generated column is stored)
    volatile: str = ""  # what makes the default volatile (e.g. "random()", "a serial type (nextval)"), or ""
    via_rebuild: bool = False
    old_definition_source: str = ""


@dataclass
class SetNotNull(Event):
    table: str = ""
    column: str = ""
    # alter (ALTER COLUMN SET NOT NULL) | modify (MySQL MODIFY/CHANGE) | rebuild | rebuild_coalesce
    via: str = "alter"
    verb: str = ""  # MODIFY / CHANGE
    new_column: bool = False  # the column is added by this file
    fills_itself: bool = False  # (new_column) it has a default that fills old-version INSERTs
    proven_by: str = ""  # a validated CHECK (col IS NOT NULL) that already holds (PostgreSQL 12+ skips the scan)
    column_source: str = ""  # where the prior definition came from


@dataclass
class DropDefault(Event):
    table: str = ""
    column: str = ""
    new_column: bool = False  # added NOT NULL with a default by this file
    not_null: bool = False
    filled_before: bool = False  # the column filled itself before this statement
    fills_now: bool = False
    prior_known: bool = False  # not_null is known (an earlier file, the history or the live schema)
    column_unknown: bool = False  # neither this file, the history nor the live schema knows the column


# ---- uniqueness and keys


@dataclass
class CreateIndex(Event):
    table: str = ""
    index: str = ""
    unique: bool = False
    concurrently: bool = False
    reindex: bool = False


@dataclass
class DropIndex(Event):
    """DROP INDEX, or ALTER TABLE DROP CONSTRAINT/INDEX/KEY of a unique one."""

    table: str = ""
    names: Tuple[str, ...] = ()
    unique_names: Tuple[str, ...] = ()  # those known to be unique, or of unknown kind (the worst case)
    unique_source: str = ""  # where the first unique one is known from, "" when its kind is unknown
    concurrently: bool = False
    statement_kind: str = "drop_index"  # drop_index | drop_constraint
    kind_unknown: Tuple[str, ...] = ()  # of unique_names, those whose kind nothing knows (assumed unique)


@dataclass
class PrimaryKeyChange(Event):
    table: str = ""
    added: bool = False
    dropped: bool = False
    via_column: bool = False  # ADD COLUMN ... PRIMARY KEY


@dataclass
class UniquenessChange(Event):
    """A rebuild that drops or adds the uniqueness of a column."""

    table: str = ""
    column: str = ""
    dropped: bool = False
    old_definition_source: str = ""


@dataclass
class AddConstraint(Event):
    table: str = ""
    name: str = ""
    kind: str = ""  # check | fk | unique | exclude | domain
    not_valid: bool = False
    using_index: bool = False
    fk_checks_off: bool = False  # MySQL SET foreign_key_checks=0 earlier in the file


@dataclass
class ValidateConstraint(Event):
    table: str = ""
    name: str = ""
    kind: str = ""  # check | fk
    same_transaction: bool = False  # as the ADD ... NOT VALID: the ADD's lock is still held


# ---- types and rewrites


@dataclass
class AlterType(Event):
    table: str = ""
    column: str = ""
    old_type: str = ""  # "" when neither this file, the history nor the live schema knows it
    new_type: str = ""
    old_type_source: str = ""
    # what the type system says of old -> new: same | safe | rewrite (MySQL across the 255-byte length prefix)
    # | change | "" (old type unknown)
    change: str = ""
    using: bool = False
    collate: bool = False
    new_column: bool = False  # the column is added by this file: the old version does not read it
    via: str = "alter"  # alter | modify (MySQL MODIFY/CHANGE, with verb) | rebuild | rebuild_cast
    verb: str = ""
    restated_not_null: bool = False  # (modify, old type unknown) the definition restates NOT NULL
    varchar_target: bool = False  # (PostgreSQL) the new type is a varchar or text
    old_definition_source: str = ""


@dataclass
class AlterNamedType(Event):
    """ALTER TYPE (enum values, composite attributes) and MySQL CONVERT TO CHARACTER SET."""

    name: str = ""
    convert_charset: bool = False


@dataclass
class TableRebuild(Event):
    """A statement that rewrites or copies a whole table (or index, materialized view) under a lock."""

    table: str = ""
    # vacuum_full | cluster | refresh_mv | optimize | tablespace_mv | tablespace_index | tablespace | logged |
    # access_method | engine (with option) | algorithm_copy | mysql_fk_copy
    how: str = ""
    option: str = ""


@dataclass
class AddVolatileDefault(Event):
    """ALTER COLUMN ... ADD GENERATED (an identity on an existing column)."""

    table: str = ""
    column: str = ""


# ---- data and locks


@dataclass
class DataWide(Event):
    """TRUNCATE, DELETE and UPDATE on a table the old version uses."""

    table: str = ""
    verb: str = ""  # truncate | delete | update
    filtered: bool = False  # a real WHERE (not a tautology), a LIMIT, a join condition


@dataclass
class LockTable(Event):
    tables: Tuple[str, ...] = ()
    mode: str = ""  # PostgreSQL LOCK ... IN <mode> MODE, or MySQL LOCK=<mode>
    via: str = "lock"  # lock | mysql_option


# ---- what the reader cannot judge


@dataclass
class Undetermined(Event):
    """A statement (or the rest of a file) whose effect the reader cannot determine."""

    what: str = ""
    changes_existing: bool = False  # it alters or drops something that exists: reviewed as unparsed
    severity: str = "error"
    force: bool = False  # reported even past the per-file cap of findings
