# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the reader of migration_check.

It walks the statements the lexer cuts (the same ones migration_apply runs), reads each with the small
recursive-descent parser of ``_sql/parse.py`` (a cursor over the lexer's tokens, column definitions, types, plain
statement records), keeps the file's state (objects created in the file, columns added, NOT VALID constraints,
transactions, routines the file calls, user variables, rebuilds in progress) on top of the catalog, and turns each
change to an object the old version can see into a typed event (``_sql/events.py``) with the facts a rule needs.
The ``Analyzer`` here holds that state, the dispatch by a statement's first word (``_HANDLERS``) and ``emit``; the
handlers of each statement family are its mixins in ``_sql/handlers`` (create, alter, drop, data, rebuild,
procedural). It decides no hazard: each rule's ``check(event, state)`` in ``_sql/rules`` does (``emit``).
``_sql_safety.analyze_sql`` is its entry point.
"""

from __future__ import annotations

import bisect
import re
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import (
    Catalog,
    describe_source,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.handlers.alter import AlterHandlers
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.handlers.create import CreateHandlers
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.handlers.data import DataHandlers
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.handlers.drop import DropHandlers
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.handlers.procedural import ProceduralHandlers
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.handlers.rebuild import RebuildHandlers
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.lexer import (
    MAX_LEX_CHARS,
    Token,
    mask,
    tokenize,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.parse import (
    ColumnDef,
    Ctx,
    Cursor,
    inline_index_name,
    norm_name,
    not_null_check_column,
    ordered_group_names,
    pg_default_name,
    split_pieces_checked,
    unquote_name,
    words_of,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.registry import LISTENERS
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import Rule

# Bounds that keep garbage input cheap (MAX_LEX_CHARS, in the lexer: only a statement's head is classified).
EXCERPT_CHARS = 160
MAX_FINDINGS_PER_FILE = 500
MAX_LEX_PER_FILE = 1024 * 1024
_HEAD_RE = re.compile(r"\s*([A-Za-z_]+)")
_SELECT_RE = re.compile(r"\bSELECT\b", re.IGNORECASE)
_WHERE_RE = re.compile(r"\bWHERE\b", re.IGNORECASE)
_NO_LEX_HEADS = frozenset(("COMMENT", "GRANT", "REVOKE", "ANALYZE", "ANALYSE", "COPY", "VALUES", "SHOW", "EXPLAIN"))


_ALTERISH = frozenset(("ALTER", "DROP", "RENAME", "TRUNCATE", "MODIFY", "CHANGE", "OPTIMIZE", "REPLACE"))
_SAFE_HEADS = frozenset(
    """SELECT VALUES INSERT SET RESET SHOW BEGIN START COMMIT END ROLLBACK SAVEPOINT RELEASE COMMENT GRANT REVOKE
    PRAGMA ANALYZE ANALYSE EXPLAIN USE NOTIFY LISTEN UNLISTEN DISCARD DEALLOCATE DECLARE UNLOCK FLUSH CHECKPOINT
    SECURITY LOAD HANDLER DESCRIBE DESC FETCH CLOSE MOVE PREPARE CHECK CHECKSUM REPAIR""".split()
)


class Analyzer(CreateHandlers, AlterHandlers, DropHandlers, DataHandlers, RebuildHandlers, ProceduralHandlers):
    """One file's reading: its state, the events it emits, the statement dispatch; the handlers of each statement
    family are the mixins it is made of (``_sql/handlers``)."""

    def __init__(
        self,
        text: str,
        dialect: str,
        path: str,
        catalog: Catalog,
        no_transaction: bool,
        small_table_rows: Optional[int],
        on_undetermined: str = "block",
        history: bool = False,
    ) -> None:
        self.text = text
        self.on_undetermined = on_undetermined
        self.source = ("history:" if history else "file:") + path
        self.dialect = dialect
        self.path = path
        self.catalog = catalog
        self.no_transaction = no_transaction
        self.small_table_rows = small_table_rows
        self.findings: List[Finding] = []
        self._nl = [m.start() for m in re.finditer("\n", text)]
        self.created_tables: Set[str] = set()
        self.created_indexes: Set[str] = set()
        self.created_unique_indexes: Set[str] = set()
        self.created_constraints: Set[str] = set()
        self.new_columns: Dict[Tuple[str, str], ColumnDef] = {}
        self.not_valid: Dict[str, Tuple[str, int, str]] = {}  # constraint -> (kind, tx, table)
        self.tx = 0
        self.stmt_index = 0
        self.routines: Dict[str, Tuple[str, int]] = {}  # name -> (body text, file offset)
        self.routines_run: Set[str] = set()
        self.user_vars: Dict[str, List[Tuple[str, int]]] = {}
        self.prepared: Dict[str, List[Tuple[str, int]]] = {}
        self.rebuild_targets: Dict[str, str] = {}  # old table -> new table created in this file
        self.rebuilt: Set[str] = set()
        self.table_defs: Dict[str, List[ColumnDef]] = {}
        self.copies: Dict[str, Tuple[str, List[str], List[Optional[str]], bool]] = {}
        self.fk_checks_off = False
        self.lexed = 0
        self.unreadable = 0
        #: not one statement of the file reads as SQL: it is no migration, and nothing of it may be quoted
        self.not_sql = False
        # Prisma writes what a rebuild drops in a comment; that is the old definition we cannot see otherwise
        self.declared_drops: Dict[str, Set[str]] = {}
        for m in _PRISMA_DROP_RE.finditer(text):
            self.declared_drops.setdefault(norm_name(m.group(2)), set()).add(norm_name(m.group(1)))
        self.recreated: Set[str] = set()
        self.or_replace = False
        self.recreate_pending: Dict[str, Optional[Tuple[Ctx, str]]] = {}
        self.budget_reported = False
        self.spans: List[Tuple[int, int]] = []
        self.created_objects: Set[str] = set()
        self.reads: Dict[str, Set[str]] = {}
        self.unique_drops: Dict[str, Finding] = {}
        #: events emitted: changes to objects this file did not create (a replayed first file with none of them
        #: started from an empty schema, see Catalog.note_replayed)
        self.events = 0

    # ---- positions

    def line_of(self, offset: int) -> int:
        return bisect.bisect_left(self._nl, offset) + 1

    # ---- findings

    def emit(self, event: ev.Event) -> List[Finding]:
        """Send an event to the rules that listen to it; keep and return the findings they make."""
        made: List[Finding] = []
        self.events += 1
        for module in LISTENERS.get(type(event), ()):
            if self.dialect not in module.RULE.dialects:
                continue
            if len(self.findings) >= MAX_FINDINGS_PER_FILE and not getattr(event, "force", False):
                break
            finding = module.check(event, self)
            if finding is not None:
                self.findings.append(finding)
                made.append(finding)
        return made

    def at(self, ctx: Ctx, text: str) -> Dict[str, object]:
        """The position fields of an event on this statement."""
        return {"statement": text, "line": self.line_of(ctx.start), "ctx": ctx}

    # ---- what rules may ask (rule.State)

    def finding(self, rule: Rule, event: ev.Event, message: str = "", severity: str = "error") -> Finding:
        ctx = event.ctx
        excerpt = " ".join(event.statement.split())
        if len(excerpt) > EXCERPT_CHARS:
            excerpt = excerpt[: EXCERPT_CHARS - 3] + "..."
        message = message or rule.summary
        if ctx.label:
            message = "%s (%s)" % (message, ctx.label)
        finding = Finding(self.path, event.line, excerpt, rule.id, severity, message, rule.remedy)
        finding._span = (ctx.outer_start_line, ctx.outer_end_line)
        finding._event = event
        return finding

    def per(self, source: str) -> str:
        return " (per %s)" % describe_source(source, self.path) if source else ""

    def describe(self, source: str) -> str:
        return describe_source(source, self.path)

    def old_definition(self, source: str) -> str:
        return " (old definition from %s)" % describe_source(source, self.path) if source else ""

    def undetermined(
        self, ctx: Ctx, text: str, what: str, changes_existing: bool, severity: str = "error", force: bool = False
    ) -> None:
        self.emit(
            ev.Undetermined(
                what=what, changes_existing=changes_existing, severity=severity, force=force, **self.at(ctx, text)
            )
        )

    # ---- entry

    def run(self) -> None:
        masked, problem = mask(self.text, self.dialect)
        pieces, split_error = split_pieces_checked(self.text, masked, self.dialect)
        if problem is None and split_error is not None:
            problem = (split_error.offset, "")
        self._prescan(pieces)
        read = 0
        for piece in pieces:
            if problem is not None and (piece.end > problem[0] or ";" not in masked[piece.end : problem[0]]):
                break  # the statement runs into the unterminated quote; reported below
            read += 1
            ctx = Ctx(piece.start, self.line_of(piece.start), self.line_of(piece.end), 0)
            self.spans.append((ctx.outer_start_line, ctx.outer_end_line))
            self.statement(piece.text, piece.masked, ctx)
        for name, pending in list(self.recreate_pending.items()):
            if pending is not None:
                self.emit(
                    ev.DropTable(
                        table=name,
                        how="recreate",
                        table_unknown=name not in self.catalog_before,
                        **self.at(pending[0], pending[1]),
                    )
                )
        if problem is not None:
            offset, what = problem
            # nothing before the problem read as SQL either: no migration, quote none of it
            self.not_sql = self.unreadable == read
            ctx = Ctx(offset, self.line_of(offset), self.line_of(len(self.text)), 0)
            self.undetermined(
                ctx,
                self.text[offset : offset + 80],
                (
                    "unterminated %s starting here" % what
                    if what
                    else "%s" % split_error  # the splitter's own words, e.g. a goose StatementBegin without End
                )
                + ": the rest of the file (line %d to the end) cannot be checked" % self.line_of(offset),
                changes_existing=True,
                force=True,
            )
        elif not pieces:
            ctx = Ctx(0, 1, 1, 0)
            self.undetermined(
                ctx, "", "no SQL statement found in this file (empty, or only comments)", True, severity="warning"
            )
        elif self.unreadable == len(pieces):
            self.not_sql = True
            ctx = Ctx(pieces[0].start, 1, 1, 0)
            self.undetermined(
                ctx,
                pieces[0].text[:80],
                "not one statement of this file reads as SQL: is it the right file, encoding and dialect?",
                changes_existing=True,
                force=True,
            )

    # ---- statements

    def statement(self, text: str, masked: str, ctx: Ctx) -> None:
        self.stmt_index += 1
        if self.no_transaction:
            self.tx = self.stmt_index
        m = _HEAD_RE.match(masked)
        head = m.group(1).upper() if m else ""
        if head in _NO_LEX_HEADS:
            return
        if head in ("INSERT", "REPLACE") and not _SELECT_RE.search(masked, 0, MAX_LEX_CHARS):
            return  # plain data rows: safe, and not worth lexing
        if head == "SELECT" and not self.routines and self.dialect != "mysql":
            return
        if len(text) > MAX_LEX_CHARS:
            if head in ("INSERT", "REPLACE", "SELECT", "VALUES", "WITH"):
                return
            if head in ("UPDATE", "DELETE") and _WHERE_RE.search(masked):
                return
        self.lexed += min(len(text), MAX_LEX_CHARS)
        if self.lexed > MAX_LEX_PER_FILE:
            if not self.budget_reported:
                self.budget_reported = True
                self.undetermined(
                    ctx,
                    text,
                    "the file holds more than %d KB of statements to analyse; from this statement on it is not "
                    "checked (split the migration, or move bulk data out of it)" % (MAX_LEX_PER_FILE // 1024),
                    changes_existing=True,
                    force=True,
                )
            return
        toks = tokenize(text)
        if not toks:
            return
        try:
            self.classify(toks, text, ctx)
        except (IndexError, ValueError, AttributeError) as exc:  # a reader bug must not hide a statement
            self.undetermined(ctx, text, "the checker could not read this statement (%s)" % exc, True)

    def classify(self, toks: List[Token], text: str, ctx: Ctx) -> None:
        cur = Cursor(toks)
        w = cur.word()
        handler = _HANDLERS.get(w)
        if handler is not None:
            handler(self, cur, text, ctx)
        elif w == "COPY" or w in _SAFE_HEADS:
            return
        elif w or cur.punct() != "(":  # a leading parenthesis: a parenthesised SELECT
            self.unparsed(ctx, text, toks)

    def transaction_end(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        if cur.word() != "BEGIN" or self.dialect != "mysql":  # MySQL's BEGIN starts a compound statement
            self.tx += 1

    def unparsed(self, ctx: Ctx, text: str, toks: Sequence[Token], what: str = "") -> None:
        first = toks[0].v if toks and toks[0].kind == "w" else ""
        if ctx.depth == 0 and not what:
            self.unreadable += 1
        if first in _ALTERISH:
            self.undetermined(ctx, text, what, changes_existing=True)
            return
        self.undetermined(
            ctx,
            text,
            what
            or "cannot classify this statement (%s ...), so what it does to the old version's schema is unknown"
            % (first or (toks[0].raw if toks else "?")),
            changes_existing=False,
        )

    # ---- helpers on state

    def is_new(self, table: Optional[str]) -> bool:
        if table is None:
            return False
        if table in self.created_tables or table in self.catalog.new_tables:
            return True
        return self.catalog.exists(table) is False

    def known_present(self, table: str) -> bool:
        """Is a table of this name known to exist before this statement (not one this file or an earlier pending
        one creates)?"""
        if table in self.created_tables or table in self.catalog.new_tables or table in self.rebuilt:
            return False
        return table in self.catalog.tables

    def small(self, table: Optional[str]) -> bool:
        if table is None or self.small_table_rows is None:
            return False
        info = self.catalog.table(table)
        return info is not None and info.row_count is not None and info.row_count < self.small_table_rows

    def drop_unique(self, event: ev.DropIndex) -> None:
        """Emit the drop; its drop_unique_constraint finding is withdrawn if the file re-creates that unique index."""
        for finding in self.emit(event):
            if finding.rule == "drop_unique_constraint" and len(event.unique_names) == 1:
                self.unique_drops[event.unique_names[0]] = finding

    def remember_constraint(self, table: str, part: Sequence[Token], validated: bool, name: str = "") -> None:
        """Record a table constraint's kind in the catalog: unique (UNIQUE / PRIMARY KEY) or not, and CHECKs."""
        words = words_of(part)
        if not name and words[:1] == ["CONSTRAINT"] and len(part) > 1:
            name = unquote_name(part[1].raw)
        if not name and self.dialect == "mysql":
            name = inline_index_name(part)  # KEY name (...), UNIQUE INDEX name (...)
        if not name and self.dialect == "postgresql":
            name = pg_default_name(table, words[:1][0] if words else "", ordered_group_names(part))
            if not name or name in self.catalog.indexes:
                return  # a name PostgreSQL would choose is a fact only where nothing else is known of it
        if not name:
            return
        if "UNIQUE" in words[:3] or "PRIMARY" in words[:3]:
            self.catalog.unique_indexes.add(name)
        else:
            self.catalog.unique_indexes.discard(name)
        self.catalog.indexes[name] = self.source
        if "CHECK" in words[:3]:
            self.catalog.checks.setdefault(table, {})[name] = (not_null_check_column(part), validated)

    def remember_column_constraints(self, table: str, col: ColumnDef) -> None:
        """(PostgreSQL) the kinds of the constraints a column definition declares, under the names PostgreSQL gives
        them (``<table>_pkey``, ``<table>_<column>_key``, ``<table>_<column>_fkey``), so that a later DROP
        CONSTRAINT of one of them is judged by what it is."""
        if self.dialect != "postgresql":
            return
        for word, unique in (("PRIMARY", True), ("UNIQUE", True), ("FOREIGN", False)):
            if not {"PRIMARY": col.primary_key, "UNIQUE": col.unique, "FOREIGN": col.references}[word]:
                continue
            name = pg_default_name(table, word, [col.name])
            if name and name not in self.catalog.indexes:
                self.catalog.indexes[name] = self.source
                if unique:
                    self.catalog.unique_indexes.add(name)

    def not_null_check(self, table: str, col: str) -> Optional[str]:
        """The name of a validated CHECK (col IS NOT NULL) on the table (PostgreSQL), or None."""
        if self.dialect != "postgresql":
            return None
        for name, (column, validated) in self.catalog.checks.get(table, {}).items():
            if column == col and validated:
                return name
        return None

    def unique_name(self, name: str) -> Optional[bool]:
        """Is this index/constraint unique? True or False when this file, the history or the live schema knows its
        kind; None when nothing does (its name proves nothing: the caller assumes the worst case, unique)."""
        if name in self.created_unique_indexes:
            return True
        kind = self.catalog.index_kind(name)
        return None if kind is None else kind == "unique"


# the handler of each statement by its first word (the others are safe, _SAFE_HEADS, or unparsed)
_HANDLERS: Dict[str, Callable[[Analyzer, Cursor, str, Ctx], None]] = {
    "CREATE": CreateHandlers.create,
    "ALTER": AlterHandlers.alter,
    "RENAME": AlterHandlers.rename_tables,
    "DROP": DropHandlers.drop,
    "TRUNCATE": DataHandlers.truncate,
    "DELETE": DataHandlers.delete,
    "UPDATE": DataHandlers.update,
    "LOCK": DataHandlers.lock,
    "WITH": DataHandlers.with_query,
    "VACUUM": DataHandlers.maintenance,
    "CLUSTER": DataHandlers.maintenance,
    "REINDEX": DataHandlers.maintenance,
    "REFRESH": DataHandlers.maintenance,
    "OPTIMIZE": DataHandlers.maintenance,
    "INSERT": RebuildHandlers.insert,
    "REPLACE": RebuildHandlers.insert,
    "DO": ProceduralHandlers.do_block,
    "CALL": ProceduralHandlers.call_or_select,
    "PERFORM": ProceduralHandlers.call_or_select,
    "SELECT": ProceduralHandlers.call_or_select,
    "EXECUTE": ProceduralHandlers.execute,
    "SET": ProceduralHandlers.set_stmt,
    "PREPARE": ProceduralHandlers.prepare,
    "COMMIT": Analyzer.transaction_end,
    "END": Analyzer.transaction_end,
    "ROLLBACK": Analyzer.transaction_end,
    "BEGIN": Analyzer.transaction_end,
}

_PRISMA_DROP_RE = re.compile(r"You are about to drop the column `([^`]+)` on the `([^`]+)` table")
