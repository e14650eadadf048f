# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the reader's ALTER handlers (tables action by
action, views, named types) and RENAME.

A mixin of ``_sql/reader.py``'s ``Analyzer``: it reads the statement with ``_sql/parse.py``, keeps the
file's state in the analyzer and emits its events (``self.emit``); it decides no hazard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import ColumnInfo
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.lexer import Token
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.parse import (
    VARCHAR_NAMES,
    ColumnDef,
    Ctx,
    Cursor,
    default_volatility,
    parse_column,
    parse_type,
    split_top,
    type_change_kind,
    type_text,
    words_of,
)

# objects ALTER changes without touching a table's columns or rows (ALTER DOMAIN ... ADD CONSTRAINT apart)
_NO_TABLE_OBJECTS = frozenset(
    """SEQUENCE FUNCTION PROCEDURE ROLE USER DEFAULT EXTENSION TRIGGER DOMAIN POLICY PUBLICATION SUBSCRIPTION EVENT
    AGGREGATE OPERATOR COLLATION TEXT STATISTICS SYSTEM LARGE SERVER FOREIGN LANGUAGE TABLESPACE CONVERSION RULE
    INSTANCE LOGFILE RESOURCE""".split()
)
# ALTER TABLE options that copy the table (MySQL ENGINE=, FORCE, ...)
_REBUILD_OPTIONS = frozenset(("ENGINE", "ROW_FORMAT", "FORCE", "KEY_BLOCK_SIZE", "COMPRESSION", "ENCRYPTION"))
# ALTER TABLE actions that change metadata only
_METADATA_OPTIONS = frozenset(
    """OWNER ENABLE DISABLE REPLICA CLUSTER INHERIT NO OF NOT DEFAULT CHARACTER CHARSET COLLATE COMMENT AUTO_INCREMENT
    STATS_PERSISTENT STATS_AUTO_RECALC STATS_SAMPLE_PAGES AVG_ROW_LENGTH MAX_ROWS MIN_ROWS PACK_KEYS CHECKSUM
    DELAY_KEY_WRITE RESET ORDER ATTACH FORCE WITHOUT ADD""".split()
)
# the words of ALTER TABLE actions whose reader takes the cursor after them
_COLUMN_ACTIONS = frozenset(("ADD", "DROP", "ALTER", "MODIFY", "CHANGE", "RENAME", "VALIDATE", "SET"))


@dataclass
class _AlteredColumn:
    """The column an ALTER COLUMN action changes, and what is known of it before the action."""

    table: str
    name: str
    known: Optional[ColumnInfo]  # the catalog's (or, for a column this file added, its definition's) facts
    added: Optional[ColumnDef]  # the column as an ADD COLUMN of this file defined it
    new_table: bool  # a table this file created (or rebuilds): no old version reads it


class AlterHandlers:
    # ---- ALTER

    def alter(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        cur.i += 1
        while cur.accept_any("ONLINE", "OFFLINE", "IGNORE"):
            pass
        w = cur.word()
        if w == "TABLE":
            cur.i += 1
            cur.accept("IF", "EXISTS")
            cur.accept("ONLY")
            table = cur.name()
            if table is None:
                self.unparsed(ctx, text, cur.t)
                return
            if cur.punct() == "*":
                cur.i += 1
            self.alter_table(table, split_top(cur.rest()), text, ctx)
        elif w in ("VIEW", "MATERIALIZED"):
            self.alter_view(cur, text, ctx)
        elif w == "INDEX":
            cur.i += 1
            cur.accept("IF", "EXISTS")
            cur.name()
            if cur.accept("SET", "TABLESPACE"):
                self.emit(ev.TableRebuild(how="tablespace_index", **self.at(ctx, text)))
        elif w == "SCHEMA" or w == "DATABASE":
            cur.i += 1
            name = cur.name()
            if cur.accept("RENAME"):
                self.emit(ev.DropSchema(name=name or "", renamed=True, **self.at(ctx, text)))
        elif w == "TYPE":
            self.alter_named_type(cur, text, ctx)
        elif w in _NO_TABLE_OBJECTS:
            if w == "DOMAIN" and "ADD" in words_of(cur.rest()) and "NOT" not in words_of(cur.rest())[-2:]:
                self.emit(ev.AddConstraint(kind="domain", **self.at(ctx, text)))
        else:
            self.unparsed(ctx, text, cur.t)

    def alter_view(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        cur.accept("MATERIALIZED")
        cur.i += 1
        cur.accept("IF", "EXISTS")
        name = cur.name() or ""
        if cur.accept("RENAME"):
            if cur.word() == "TO":
                self.emit(ev.RenameTable(old=name, kind="view", **self.at(ctx, text)))
            elif cur.accept("COLUMN") or cur.word(1) == "TO":
                self.emit(ev.RenameColumn(table=name, via="view", **self.at(ctx, text)))
        elif cur.accept("SET", "SCHEMA"):
            self.emit(ev.RenameTable(old=name, kind="view", moved_schema=True, **self.at(ctx, text)))
        elif cur.accept("SET", "TABLESPACE"):
            self.emit(ev.TableRebuild(table=name, how="tablespace_mv", **self.at(ctx, text)))
        elif cur.accept("AS"):  # mysql ALTER VIEW v AS SELECT: may remove columns
            self.emit(ev.DropView(name=name, redefined=True, **self.at(ctx, text)))

    def alter_named_type(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        cur.i += 1
        name = cur.name()
        rest = words_of(cur.rest())
        if rest[:2] == ["ADD", "VALUE"] or rest[:1] in (["OWNER"], ["SET"]):
            return
        if rest[:1] == ["RENAME"] and rest[1:2] == ["TO"]:
            return  # columns keep their type; only DDL naming the type changes
        if rest[:2] == ["ADD", "ATTRIBUTE"]:
            return
        self.emit(ev.AlterNamedType(name=name or "", **self.at(ctx, text)))

    def alter_table(self, table: str, actions: List[List[Token]], text: str, ctx: Ctx) -> None:
        new_table = self.is_new(table) or table in self.rebuilt
        changes = [self.alter_table_action(table, action, text, ctx, new_table) for action in actions]
        pk_added, pk_dropped = "pk_added" in changes, "pk_dropped" in changes
        if (pk_added or pk_dropped) and not new_table:
            self.emit(ev.PrimaryKeyChange(table=table, added=pk_added, dropped=pk_dropped, **self.at(ctx, text)))

    def alter_table_action(self, table: str, action: List[Token], text: str, ctx: Ctx, new_table: bool) -> str:
        """One action of an ALTER TABLE; 'pk_added' or 'pk_dropped' where it changes the primary key, else ''."""
        cur = Cursor(action)
        w = cur.word()
        if w not in _COLUMN_ACTIONS:
            self.table_option(table, action, text, ctx, new_table)
            return ""
        cur.i += 1
        if w == "ADD":
            return "pk_added" if self.alter_add(table, cur, text, ctx, new_table) == "pk" else ""
        if w == "DROP":
            return "pk_dropped" if self.alter_drop(table, cur, text, ctx, new_table) == "pk" else ""
        if w == "ALTER":
            self.alter_column(table, cur, text, ctx, new_table)
        elif w in ("MODIFY", "CHANGE"):
            cur.accept("COLUMN")
            self.modify_column(table, w, cur, text, ctx, new_table)
        elif w == "RENAME":
            self.alter_rename(table, cur, text, ctx, new_table)
        elif w == "VALIDATE":
            self.validate_constraint(table, cur, text, ctx, new_table)
        else:
            self.alter_table_set(table, cur, text, ctx, new_table)
        return ""

    def validate_constraint(self, table: str, cur: Cursor, text: str, ctx: Ctx, new_table: bool) -> None:
        cur.accept("CONSTRAINT")
        name = cur.name() or ""
        known_check = self.catalog.checks.get(table, {}).get(name)
        if known_check is not None:
            self.catalog.checks[table][name] = (known_check[0], True)
        pending = self.not_valid.get(name)
        if pending and not new_table:
            self.emit(
                ev.ValidateConstraint(
                    table=table,
                    name=name,
                    kind=pending[0],
                    same_transaction=pending[1] == self.tx,
                    **self.at(ctx, text),
                )
            )

    def alter_table_set(self, table: str, cur: Cursor, text: str, ctx: Ctx, new_table: bool) -> None:
        event: Optional[ev.Event] = None
        if cur.accept("TABLESPACE") or cur.accept("LOGGED") or cur.accept("UNLOGGED"):
            event = ev.TableRebuild(table=table, how="tablespace", **self.at(ctx, text))
        elif cur.accept("ACCESS", "METHOD"):
            event = ev.TableRebuild(table=table, how="access_method", **self.at(ctx, text))
        elif cur.accept("SCHEMA"):
            event = ev.RenameTable(old=table, moved_schema=True, **self.at(ctx, text))
        # SET (storage params), WITHOUT CLUSTER/OIDS, STATISTICS: metadata
        if event is not None and not new_table:
            self.emit(event)

    def table_option(self, table: str, action: List[Token], text: str, ctx: Ctx, new_table: bool) -> None:
        """An ALTER TABLE action that is no column or constraint change: a table option, or what cannot be read."""
        cur = Cursor(action)
        w = cur.word()
        if w in ("ALGORITHM", "LOCK"):
            if not new_table:
                self.mysql_alter_options(table, action, text, ctx)
            return
        if w in _REBUILD_OPTIONS and not (w == "FORCE" and cur.word(1) == "ROW"):
            event: ev.Event = ev.TableRebuild(table=table, how="engine", option=w, **self.at(ctx, text))
        elif w == "CONVERT":
            event = ev.AlterNamedType(name=table, convert_charset=True, **self.at(ctx, text))
        elif w == "DETACH":
            event = ev.DropTable(table=table, how="detach_partition", **self.at(ctx, text))
        elif w in _METADATA_OPTIONS:
            return
        elif w == "" and cur.peek() is not None and cur.peek().kind in ("q",):
            self.unparsed(ctx, text, action, "cannot read this ALTER TABLE action")
            return
        else:
            self.undetermined(
                ctx,
                text,
                "cannot read the ALTER TABLE action starting with %r" % (action[0].raw,),
                changes_existing=True,
                severity="error" if not new_table else "warning",
            )
            return
        if not new_table:
            self.emit(event)

    def mysql_alter_options(self, table: str, toks: Sequence[Token], text: str, ctx: Ctx) -> None:
        """ALGORITHM=COPY copies the table; LOCK=SHARED/EXCLUSIVE blocks the old version for the whole ALTER."""
        toks = list(toks)
        for i, tok in enumerate(toks[:-1]):
            if tok.kind != "w" or tok.v not in ("ALGORITHM", "LOCK"):
                continue
            j = i + 1
            if toks[j].kind == "p" and toks[j].v == "=":
                j += 1
            value = toks[j].v if j < len(toks) and toks[j].kind == "w" else ""
            if tok.v == "ALGORITHM" and value == "COPY":
                self.emit(ev.TableRebuild(table=table, how="algorithm_copy", **self.at(ctx, text)))
            if tok.v == "LOCK":
                self.emit(ev.LockTable(tables=(table,), mode=value, via="mysql_option", **self.at(ctx, text)))

    def alter_add(self, table: str, cur: Cursor, text: str, ctx: Ctx, new_table: bool) -> str:
        constraint = None
        if cur.accept("CONSTRAINT"):
            if cur.word() not in ("CHECK", "UNIQUE", "PRIMARY", "FOREIGN", "EXCLUDE"):
                constraint = cur.name()
        w = cur.word()
        if w in ("CHECK", "UNIQUE", "PRIMARY", "FOREIGN", "EXCLUDE") or (
            w in ("INDEX", "KEY", "FULLTEXT", "SPATIAL") and self.dialect == "mysql"
        ):
            return self.add_constraint(table, constraint, cur, text, ctx, new_table)
        # a column (COLUMN keyword optional)
        cur.accept("COLUMN")
        cur.accept("IF", "NOT", "EXISTS")
        if cur.punct() == "(":
            parts = split_top(cur.skip_group())
        else:
            parts = [cur.rest()]
        for part in parts:
            col = parse_column(part)
            if col is None:
                self.unparsed(ctx, text, part, "cannot read the added column")
                continue
            self.add_column(table, col, text, ctx, new_table)
        return ""

    def add_constraint(
        self, table: str, constraint: Optional[str], cur: Cursor, text: str, ctx: Ctx, new_table: bool
    ) -> str:
        """ADD [CONSTRAINT name] CHECK / UNIQUE / PRIMARY KEY / FOREIGN KEY / EXCLUDE (MySQL: INDEX, KEY ...);
        returns its kind ('pk' for a primary key of a table the old version uses), or '' when it is none of those."""
        w = cur.word()
        rest_words = words_of(cur.rest())
        not_valid = "NOT" in rest_words and "VALID" in rest_words
        if constraint:
            self.created_constraints.add(constraint)
        self.remember_constraint(table, cur.t[cur.i :], validated=not not_valid, name=constraint or "")
        if w == "PRIMARY":
            # a primary-key change, even USING INDEX (built online)
            return "" if new_table else "pk"
        if new_table:
            if not_valid and constraint:
                self.not_valid[constraint] = ("fk" if w == "FOREIGN" else "check", self.tx, table)
            return ""
        if w not in ("CHECK", "FOREIGN", "UNIQUE", "EXCLUDE"):
            return ""  # mysql ADD INDEX/KEY/FULLTEXT: online
        kind = {"CHECK": "check", "FOREIGN": "fk"}.get(w, w.lower())
        if not_valid and constraint and kind in ("check", "fk"):
            self.not_valid[constraint] = (kind, self.tx, table)
        self.emit(
            ev.AddConstraint(
                table=table,
                name=constraint or "",
                kind=kind,
                not_valid=not_valid,
                using_index="USING" in rest_words and "INDEX" in rest_words,
                fk_checks_off=self.fk_checks_off,
                **self.at(ctx, text),
            )
        )
        return kind

    def add_column(self, table: str, col: ColumnDef, text: str, ctx: Ctx, new_table: bool) -> None:
        info = self.catalog.table(table)
        if info is not None:
            info.columns[col.name] = col.info()
        self.remember_column_constraints(table, col)
        if new_table:
            if table in self.table_defs:
                self.table_defs[table].append(col)
            return
        self.new_columns[(table, col.name)] = col
        volatile = ""
        if col.serial:
            volatile = "a serial type (nextval)"
        elif col.identity:
            volatile = "an identity column"
        elif col.has_default:
            fn = default_volatility(col.default_toks)
            if fn:
                volatile = fn + "()"
        self.emit(
            ev.AddColumn(
                table=table,
                column=col.name,
                not_null=col.not_null,
                fills_itself=col.fills_itself,
                primary_key=col.primary_key,
                unique=col.unique,
                references=bool(col.references),
                check=bool(col.check),
                generated_stored=bool(col.generated and (col.stored or self.dialect == "postgresql")),
                volatile=volatile,
                **self.at(ctx, text),
            )
        )
        if col.primary_key:
            self.emit(ev.PrimaryKeyChange(table=table, added=True, via_column=True, **self.at(ctx, text)))

    def alter_drop(self, table: str, cur: Cursor, text: str, ctx: Ctx, new_table: bool) -> str:
        w = cur.word()
        if cur.accept("PRIMARY", "KEY"):
            return "" if new_table else "pk"
        if w in ("CONSTRAINT", "INDEX", "KEY", "FOREIGN", "CHECK", "UNIQUE"):
            cur.i += 1
            return self.drop_constraint(table, w, cur, text, ctx, new_table)
        if w in ("DEFAULT",):
            return ""
        if w in ("PARTITION",):
            if not new_table:
                self.emit(ev.DropTable(table=table, how="drop_partition", **self.at(ctx, text)))
            return ""
        cur.accept("COLUMN")
        cur.accept("IF", "EXISTS")
        col = cur.name()
        if col is None:
            self.unparsed(ctx, text, cur.t, "cannot read the dropped column")
            return ""
        info = self.catalog.table(table)
        if info is not None:
            info.columns.pop(col, None)
        if new_table or (table, col) in self.new_columns:
            return ""
        self.emit(ev.DropColumn(table=table, column=col, **self.at(ctx, text)))
        return ""

    def drop_constraint(self, table: str, w: str, cur: Cursor, text: str, ctx: Ctx, new_table: bool) -> str:
        """DROP CONSTRAINT / INDEX / KEY / FOREIGN KEY / CHECK / UNIQUE name; 'pk' for a primary key's drop."""
        if w == "FOREIGN":
            cur.accept("KEY")
        cur.accept("IF", "EXISTS")
        name = cur.name() or ""
        was_unique = self.unique_name(name)
        source = self.catalog.indexes.get(name, "")
        self.catalog.checks.get(table, {}).pop(name, None)
        self.catalog.indexes.pop(name, None)
        self.catalog.unique_indexes.discard(name)
        if new_table or name in self.created_constraints or name in self.created_indexes:
            return ""
        if w in ("FOREIGN", "CHECK") or was_unique is False:
            # the statement says its kind, or it is a CHECK / FK / plain index known as such (MySQL drops indexes
            # online): relaxing
            return ""
        # known unique, or of unknown kind: the worst case is the UNIQUE constraint the old version's ON CONFLICT
        # or single-row look-up relies on
        if name.endswith("_pkey") or name.lower() == "primary":
            return "pk"
        self.drop_unique(
            ev.DropIndex(
                table=table,
                names=(name,),
                unique_names=(name,),
                unique_source=source if was_unique else "",
                kind_unknown=(name,) if was_unique is None else (),
                statement_kind="drop_constraint",
                **self.at(ctx, text),
            )
        )
        return ""

    def alter_column(self, table: str, cur: Cursor, text: str, ctx: Ctx, new_table: bool) -> None:
        if cur.accept("CONSTRAINT") or cur.accept("INDEX") or cur.accept("CHECK"):
            return  # deferrability / visibility: metadata
        cur.accept("COLUMN")
        col = cur.name()
        if col is None:
            self.unparsed(ctx, text, cur.t, "cannot read the altered column")
            return
        added = self.new_columns.get((table, col))
        known = self.catalog.column(table, col)
        if known is None and added is not None:
            known = added.info()
        self.alter_column_action(_AlteredColumn(table, col, known, added, new_table), cur, text, ctx)

    def alter_column_action(self, target: _AlteredColumn, cur: Cursor, text: str, ctx: Ctx) -> None:
        known, added = target.known, target.added
        if cur.accept("SET", "DATA", "TYPE") or cur.accept("TYPE"):
            self.set_column_type(target, cur, text, ctx)
        elif cur.accept("SET", "NOT", "NULL"):
            self.set_not_null(target, text, ctx)
        elif cur.accept("DROP", "DEFAULT"):
            self.drop_default(target, text, ctx)
        elif cur.accept("SET", "DEFAULT"):
            if added is not None:
                added.has_default = True
            if known is not None:
                known.has_default = True
        elif cur.accept("DROP", "NOT", "NULL"):
            if known is not None:
                known.not_null = False
        elif cur.accept("ADD", "GENERATED"):
            if not target.new_table and added is None:
                self.emit(ev.AddVolatileDefault(table=target.table, column=target.name, **self.at(ctx, text)))
        elif cur.accept("DROP", "EXPRESSION") or cur.accept("DROP", "IDENTITY"):
            return
        elif cur.word() in ("SET", "RESET", "DROP"):
            return  # statistics, storage, compression, visibility, options
        else:
            self.unparsed(ctx, text, cur.t, "cannot read this ALTER COLUMN action")

    def set_column_type(self, target: _AlteredColumn, cur: Cursor, text: str, ctx: Ctx) -> None:
        start = cur.i
        while not cur.at_end() and cur.word() not in ("USING", "COLLATE"):
            if cur.punct() == "(":
                cur.skip_group()
            else:
                cur.i += 1
        new_type = type_text(cur.t[start : cur.i])
        using = "USING" in words_of(cur.rest())
        collate = "COLLATE" in words_of(cur.rest())
        self.type_change(
            target.table,
            target.name,
            target.known,
            new_type,
            text,
            ctx,
            target.new_table,
            target.added is not None,
            using,
            collate,
        )

    def set_not_null(self, target: _AlteredColumn, text: str, ctx: Ctx) -> None:
        known, added = target.known, target.added
        if known is not None:
            was_not_null = known.not_null
            known.not_null = True
            known.source = self.source
            if was_not_null:
                return
        if target.new_table:
            return
        if added is not None:
            added.not_null = True
        self.emit(
            ev.SetNotNull(
                table=target.table,
                column=target.name,
                new_column=added is not None,
                fills_itself=added is not None and added.fills_itself,
                proven_by=(self.not_null_check(target.table, target.name) or "") if added is None else "",
                **self.at(ctx, text),
            )
        )

    def drop_default(self, target: _AlteredColumn, text: str, ctx: Ctx) -> None:
        known, added = target.known, target.added
        if known is not None:
            known.has_default = False
        if target.new_table:
            return
        if added is not None:
            was = added.fills_itself
            added.has_default = False
            self.emit(
                ev.DropDefault(
                    table=target.table,
                    column=target.name,
                    new_column=True,
                    not_null=added.not_null,
                    filled_before=was,
                    fills_now=added.fills_itself,
                    **self.at(ctx, text),
                )
            )
        else:
            # a column nothing knows may be NOT NULL: the worst case, whose INSERTs need the default
            self.emit(
                ev.DropDefault(
                    table=target.table,
                    column=target.name,
                    not_null=known.not_null if known is not None else True,
                    prior_known=known is not None,
                    column_unknown=known is None,
                    **self.at(ctx, text),
                )
            )

    def type_change(
        self,
        table: str,
        col: str,
        known: Optional[ColumnInfo],
        new_type: str,
        text: str,
        ctx: Ctx,
        new_table: bool,
        new_column: bool,
        using: bool = False,
        collate: bool = False,
    ) -> None:
        prior = known.type if known is not None else ""
        prior_source = known.source if known is not None else ""
        if known is not None:
            known.type = new_type
            known.source = self.source
        if (table, col) in self.new_columns:
            self.new_columns[(table, col)].type = new_type
        if new_table:
            return
        change = type_change_kind(self.dialect, prior, new_type) if prior else ""
        if new_column and (using or not prior):
            change = "change"  # a rewrite unless the type system says otherwise
        self.emit(
            ev.AlterType(
                table=table,
                column=col,
                old_type=prior,
                new_type=new_type,
                old_type_source=prior_source,
                change=change,
                using=using,
                collate=collate,
                new_column=new_column,
                varchar_target=self.dialect == "postgresql"
                and (parse_type(new_type) or ("",))[0] in VARCHAR_NAMES | {"text"},
                **self.at(ctx, text),
            )
        )

    def modify_column(self, table: str, verb: str, cur: Cursor, text: str, ctx: Ctx, new_table: bool) -> None:
        """MySQL MODIFY col <definition> / CHANGE old new <definition>: the whole definition is restated."""
        old_name = None
        if verb == "CHANGE":
            old_name = cur.name()
        col = parse_column(cur.rest())
        if col is None:
            self.unparsed(ctx, text, cur.t, "cannot read the column definition")
            return
        old = old_name or col.name
        known = self.catalog.column(table, old)
        added = self.new_columns.get((table, old))
        free = new_table or added is not None
        if added is not None and not new_table:
            prior = known.type if known is not None else added.type
            added.type = col.type
            self.emit(
                ev.AlterType(
                    table=table,
                    column=col.name,
                    old_type=prior,
                    new_type=col.type,
                    change=type_change_kind(self.dialect, prior, col.type) if prior else "change",
                    new_column=True,
                    via="modify",
                    verb=verb,
                    **self.at(ctx, text),
                )
            )
        if old != col.name:
            tinfo = self.catalog.table(table)
            if tinfo is not None and known is not None:
                tinfo.rename_column(old, col.name)
            if not free:
                self.emit(ev.RenameColumn(table=table, old=old, new=col.name, via="change", **self.at(ctx, text)))
        if free:
            if known is not None:
                known.type = col.type
                known.not_null = col.not_null
            return
        if old != col.name and known is None:
            return  # a rename restates the definition; without the prior one only the rename is certain
        self.restate_column(table, verb, col, known, text, ctx)

    def restate_column(
        self, table: str, verb: str, col: ColumnDef, known: Optional[ColumnInfo], text: str, ctx: Ctx
    ) -> None:
        """A MODIFY / CHANGE of a column the old version reads: judged against what was known of it."""
        prior_type = known.type if known is not None else ""
        prior_not_null = known.not_null if known is not None else None
        source = known.source if known is not None else ""
        if col.not_null and not prior_not_null:
            self.emit(
                ev.SetNotNull(
                    table=table, column=col.name, via="modify", verb=verb, column_source=source, **self.at(ctx, text)
                )
            )
        self.emit(
            ev.AlterType(
                table=table,
                column=col.name,
                old_type=prior_type,
                new_type=col.type,
                old_type_source=source,
                change=type_change_kind(self.dialect, prior_type, col.type) if prior_type else "",
                collate=bool(col.collate),
                via="modify",
                verb=verb,
                restated_not_null=col.not_null,
                **self.at(ctx, text),
            )
        )
        if known is not None:
            known.type = col.type
            known.not_null = col.not_null
            known.source = self.source

    def alter_rename(self, table: str, cur: Cursor, text: str, ctx: Ctx, new_table: bool) -> None:
        if cur.accept("CONSTRAINT") or cur.accept("INDEX") or cur.accept("KEY"):
            return
        if cur.accept("COLUMN") or (cur.word(1) == "TO" and cur.word() not in ("TO", "AS")):
            old = cur.name()
            cur.accept("TO")
            new = cur.name()
            tinfo = self.catalog.table(table)
            if tinfo is not None and old in tinfo.columns and new:
                tinfo.rename_column(old, new)
            if new_table or (table, old or "") in self.new_columns:
                return
            self.emit(ev.RenameColumn(table=table, old=old or "", new=new or "", **self.at(ctx, text)))
            return
        cur.accept_any("TO", "AS")
        new = cur.name()
        if new is None:
            self.unparsed(ctx, text, cur.t, "cannot read the new table name")
            return
        self._rename_table(table, new, text, ctx, new_table)

    def _rename_table(self, old: str, new: str, text: str, ctx: Ctx, new_table: bool) -> None:
        if old in self.catalog.tables:
            self.catalog.tables[new] = self.catalog.tables.pop(old)
            self.catalog.tables[new].name = new
        if old in self.created_tables:
            self.created_tables.discard(old)
            self.created_tables.add(new)
        if old in self.catalog.new_tables:
            self.catalog.new_tables.discard(old)
            self.catalog.new_tables.add(new)
        if old in self.catalog.checks:
            self.catalog.checks[new] = self.catalog.checks.pop(old)
        if new in self.rebuild_targets and self.rebuild_targets[new] == old and new in self.rebuilt:
            self.finish_rebuild(new, old, text, ctx)
            return
        if new_table:
            return
        self.emit(ev.RenameTable(old=old, new=new, **self.at(ctx, text)))

    def rename_tables(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        cur.i += 1
        if not cur.accept_any("TABLE", "TABLES"):
            self.unparsed(ctx, text, cur.t)
            return
        for part in split_top(cur.rest()):
            pc = Cursor(part)
            old = pc.name()
            pc.accept("TO")
            new = pc.name()
            if old and new:
                self._rename_table(old, new, text, ctx, self.is_new(old))
