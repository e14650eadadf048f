# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the reader of migration_check.

It walks the statements the lexer cuts (the same ones migration_apply runs), reads each with a small
recursive-descent parser over the lexer's tokens (optional keywords, several ALTER TABLE actions), keeps the
file's state (objects created in the file, columns added, NOT VALID constraints, transactions, routines the file
calls, user variables, rebuilds in progress) on top of the catalog, and turns each change to an object the old
version can see into a typed event (``_sql/events.py``) with the facts a rule needs. It decides no hazard: each
rule's ``check(event, state)`` in ``_sql/rules`` does (``emit``). ``_sql_safety.analyze_sql`` is its entry point.
"""

from __future__ import annotations

import bisect
import re
from typing import Dict, List, Optional, Sequence, Set, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import (
    Catalog,
    ColumnInfo,
    TableInfo,
    describe_source,
    unknown_fact,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.lexer import (
    MAX_LEX_CHARS,
    SplitError,
    Token,
    mask,
    split_statements,
    tokenize,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.registry import LISTENERS
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import Rule

# Bounds that keep garbage input cheap (MAX_LEX_CHARS, in the lexer: only a statement's head is classified).
EXCERPT_CHARS = 160
MAX_FINDINGS_PER_FILE = 500
MAX_BODY_DEPTH = 4
MAX_LEX_PER_FILE = 1024 * 1024
_HEAD_RE = re.compile(r"\s*([A-Za-z_]+)")
_SELECT_RE = re.compile(r"\bSELECT\b", re.IGNORECASE)
_WHERE_RE = re.compile(r"\bWHERE\b", re.IGNORECASE)
_NO_LEX_HEADS = frozenset(("COMMENT", "GRANT", "REVOKE", "ANALYZE", "ANALYSE", "COPY", "VALUES", "SHOW", "EXPLAIN"))


# --------------------------------------------------------------------------------------------------------------
# Splitting: a linear scanner that masks comments and quoted text (same length, newlines kept)


class _Piece:
    __slots__ = ("start", "end", "text", "masked")

    def __init__(self, start: int, end: int, text: str, masked: str) -> None:
        self.start = start
        self.end = end
        self.text = text
        self.masked = masked


def _split(text: str, masked: str, dialect: str) -> List[_Piece]:
    """Statements of ``text`` as the one front end cuts them (the statements migration_apply runs)."""
    return _split_checked(text, masked, dialect)[0]


def _split_checked(text: str, masked: str, dialect: str) -> Tuple[List[_Piece], Optional[SplitError]]:
    """The statements, and the splitter's error (an unterminated part) with the statements before it."""
    error = None
    try:
        statements = split_statements(text, dialect)
    except SplitError as exc:
        error = exc
        try:
            statements = split_statements(text[: exc.offset], dialect) if exc.offset > 0 else []
        except SplitError:
            statements = []
    return [_Piece(st.start, st.end, st.text, masked[st.start : st.end]) for st in statements], error


# --------------------------------------------------------------------------------------------------------------
# Tokens


def _norm(name: str) -> str:
    return name.lower()


class _Cur:
    """A cursor over a token list with the few reading helpers the classifier needs."""

    def __init__(self, toks: List[Token], i: int = 0) -> None:
        self.t = toks
        self.i = i

    def at_end(self) -> bool:
        return self.i >= len(self.t)

    def peek(self, k: int = 0) -> Optional[Token]:
        j = self.i + k
        return self.t[j] if 0 <= j < len(self.t) else None

    def word(self, k: int = 0) -> str:
        tok = self.peek(k)
        return tok.v if tok is not None and tok.kind == "w" else ""

    def punct(self, k: int = 0) -> str:
        tok = self.peek(k)
        return tok.v if tok is not None and tok.kind == "p" else ""

    def accept(self, *words: str) -> bool:
        for k, w in enumerate(words):
            if self.word(k) != w:
                return False
        self.i += len(words)
        return True

    def accept_any(self, *words: str) -> str:
        w = self.word()
        if w and w in words:
            self.i += 1
            return w
        return ""

    def accept_punct(self, p: str) -> bool:
        if self.punct() == p:
            self.i += 1
            return True
        return False

    def name(self) -> Optional[str]:
        """A possibly qualified name; returns its last part, normalised."""
        tok = self.peek()
        if tok is None or tok.kind not in ("w", "q"):
            return None
        last = tok.v if tok.kind == "q" else tok.raw
        self.i += 1
        while self.punct() == "." and self.peek(1) is not None and self.peek(1).kind in ("w", "q"):
            nxt = self.peek(1)
            last = nxt.v if nxt.kind == "q" else nxt.raw
            self.i += 2
        return _norm(last)

    def skip_group(self) -> List[Token]:
        """Skip a parenthesised group at the cursor; return the tokens inside."""
        if self.punct() != "(":
            return []
        depth = 0
        start = self.i
        while not self.at_end():
            v = self.punct()
            if v == "(":
                depth += 1
            elif v == ")":
                depth -= 1
                if depth == 0:
                    self.i += 1
                    return self.t[start + 1 : self.i - 1]
            self.i += 1
        return self.t[start + 1 :]

    def rest(self) -> List[Token]:
        return self.t[self.i :]


def _split_top(toks: Sequence[Token], sep: str = ",") -> List[List[Token]]:
    out: List[List[Token]] = [[]]
    depth = 0
    for tok in toks:
        if tok.kind == "p":
            if tok.v in ("(", "["):
                depth += 1
            elif tok.v in (")", "]"):
                depth -= 1
            elif tok.v == sep and depth == 0:
                out.append([])
                continue
        out[-1].append(tok)
    return [x for x in out if x]


def _top_words(toks: Sequence[Token]) -> List[Tuple[int, str]]:
    """(index, word) of the words at parenthesis depth 0."""
    out = []
    depth = 0
    for i, tok in enumerate(toks):
        if tok.kind == "p":
            if tok.v == "(":
                depth += 1
            elif tok.v == ")":
                depth -= 1
        elif tok.kind == "w" and depth == 0:
            out.append((i, tok.v))
    return out


# --------------------------------------------------------------------------------------------------------------
# Column definitions and defaults

_COLUMN_STOP = frozenset(
    (
        "NOT",
        "NULL",
        "DEFAULT",
        "PRIMARY",
        "UNIQUE",
        "REFERENCES",
        "CHECK",
        "CONSTRAINT",
        "GENERATED",
        "AS",
        "COLLATE",
        "AUTO_INCREMENT",
        "AUTOINCREMENT",
        "COMMENT",
        "FIRST",
        "AFTER",
        "ON",
        "IDENTITY",
        "STORED",
        "VIRTUAL",
        "INVISIBLE",
        "VISIBLE",
        "USING",
        "KEY",
        "CHARACTER",
        "CHARSET",
        "COLUMN_FORMAT",
        "STORAGE",
        "SRID",
        "COMPRESSION",
        "ENCODE",
    )
)

# Functions whose result does not depend on the row: a default made of these is evaluated once (PostgreSQL 11+
# stores it in the catalog, no rewrite). Anything else called in a default is treated as volatile, as PostgreSQL
# does for user functions.
_STABLE_FUNCS = frozenset(
    """now current_timestamp current_date current_time localtime localtimestamp statement_timestamp
    transaction_timestamp timezone lower upper trim btrim ltrim rtrim coalesce nullif greatest least concat
    to_jsonb to_json jsonb_build_object json_build_object jsonb_build_array json_build_array array
    make_interval make_date make_timestamp make_timestamptz date_trunc to_timestamp to_date to_char interval
    length char_length md5 abs round floor ceil cast current_user session_user current_schema current_setting
    inet cidr point int4range int8range tstzrange daterange numrange tsrange row extract date_part age
    concat_ws format replace substring substr split_part left right lpad rpad reverse repeat translate
    position strpos initcap to_number to_hex encode decode sha256 jsonb_object json_object array_to_json
    row_to_json jsonb_set to_tsvector to_tsquery array_length cardinality justify_interval
    pg_catalog current_database version inet_client_addr""".split()
)
_VOLATILE_FUNCS = frozenset(
    """random gen_random_uuid uuid_generate_v1 uuid_generate_v1mc uuid_generate_v4 clock_timestamp timeofday
    nextval txid_current uuid uuid_short rand setseed currval""".split()
)
_SERIAL_TYPES = frozenset(("SERIAL", "BIGSERIAL", "SMALLSERIAL", "SERIAL2", "SERIAL4", "SERIAL8"))


class _ColumnDef:
    __slots__ = (
        "name",
        "type",
        "type_toks",
        "not_null",
        "null",
        "has_default",
        "default_toks",
        "primary_key",
        "unique",
        "references",
        "check",
        "generated",
        "stored",
        "identity",
        "auto_increment",
        "collate",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.type = ""
        self.type_toks: List[Token] = []
        self.not_null = False
        self.null = False
        self.has_default = False
        self.default_toks: List[Token] = []
        self.primary_key = False
        self.unique = False
        self.references = False
        self.check = False
        self.generated = False
        self.stored = False
        self.identity = False
        self.auto_increment = False
        self.collate = False

    @property
    def serial(self) -> bool:
        return bool(self.type_toks) and self.type_toks[0].v in _SERIAL_TYPES

    @property
    def fills_itself(self) -> bool:
        """Old-version inserts that omit the column still succeed."""
        return self.has_default or self.generated or self.identity or self.auto_increment or self.serial

    def info(self) -> ColumnInfo:
        return ColumnInfo(
            self.name,
            self.type,
            self.not_null or self.primary_key,
            self.fills_itself,
            self.unique,
            self.primary_key,
        )


def _type_text(toks: Sequence[Token]) -> str:
    out = []
    for tok in toks:
        if tok.kind == "p":
            out.append(tok.v)
        else:
            out.append((" " if out and out[-1] not in ("(", ",") else "") + (tok.v if tok.kind == "w" else tok.raw))
    return "".join(out).strip().lower()


def _parse_column(toks: List[Token]) -> Optional[_ColumnDef]:
    cur = _Cur(toks)
    name = cur.name()
    if name is None:
        return None
    col = _ColumnDef(name)
    # type: words/groups until a constraint keyword
    start = cur.i
    while not cur.at_end():
        w = cur.word()
        if w in _COLUMN_STOP and not (w == "CHARACTER" and cur.word(1) in ("VARYING",)):
            if w == "CHARACTER" and cur.i == start:
                cur.i += 1
                continue
            break
        if cur.punct() == "(":
            cur.skip_group()
            continue
        cur.i += 1
    col.type_toks = toks[start : cur.i]
    col.type = _type_text(col.type_toks)
    while not cur.at_end():
        w = cur.word()
        if cur.accept("NOT", "NULL"):
            col.not_null = True
        elif cur.accept("NULL"):
            col.null = True
        elif cur.accept("DEFAULT"):
            col.has_default = True
            dstart = cur.i
            first = True
            while not cur.at_end():
                if not first and cur.word() in _COLUMN_STOP and cur.word() != "ON":
                    break
                if not first and cur.word() == "ON" and cur.word(1) == "UPDATE":
                    break
                if cur.punct() == "(":
                    cur.skip_group()
                else:
                    cur.i += 1
                first = False
            col.default_toks = toks[dstart : cur.i]
            if len(col.default_toks) == 1 and col.default_toks[0].v == "NULL":
                col.has_default = False
        elif cur.accept("PRIMARY", "KEY"):
            col.primary_key = True
        elif cur.accept("UNIQUE"):
            cur.accept_any("KEY", "INDEX")
            col.unique = True
        elif cur.accept("REFERENCES"):
            col.references = True
            cur.name()
            cur.skip_group()
        elif cur.accept("CHECK"):
            col.check = True
            cur.skip_group()
        elif cur.accept("GENERATED"):
            if cur.accept("ALWAYS") or cur.accept("BY", "DEFAULT"):
                pass
            cur.accept("ON", "NULL")
            if cur.accept("AS", "IDENTITY"):
                col.identity = True
                cur.skip_group()
            elif cur.accept("AS"):
                col.generated = True
                cur.skip_group()
        elif w == "AS" and cur.punct(1) == "(":
            cur.i += 1
            col.generated = True
            cur.skip_group()
        elif cur.accept_any("STORED", "PERSISTENT"):
            col.stored = True
        elif cur.accept_any("AUTO_INCREMENT", "AUTOINCREMENT"):
            col.auto_increment = True
        elif cur.accept("IDENTITY"):
            col.identity = True
            cur.skip_group()
        elif cur.accept("COLLATE"):
            col.collate = True
            cur.name()
        elif cur.punct() == "(":
            cur.skip_group()
        else:
            cur.i += 1
    if col.generated and not col.stored and "STORED" in [t.v for t in toks if t.kind == "w"]:
        col.stored = True
    return col


def _default_volatility(toks: Sequence[Token]) -> Optional[str]:
    """Name of the volatile (or unknown) function a default calls, or None for a stable default."""
    for i, tok in enumerate(toks):
        if tok.kind != "w":
            continue
        name = tok.raw.lower()
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        called = nxt is not None and nxt.kind == "p" and nxt.v == "("
        prev = toks[i - 1] if i > 0 else None
        if prev is not None and prev.kind == "p" and prev.v == "::":
            continue  # a cast target
        if name in _VOLATILE_FUNCS:
            return name
        if called and name not in _STABLE_FUNCS:
            if i + 2 < len(toks) and toks[i + 1].kind == "p" and name in ("varchar", "numeric", "decimal", "char"):
                continue
            return name
    return None


# --------------------------------------------------------------------------------------------------------------
# Types


_TYPE_RE = re.compile(r"^\s*([a-z_][a-z0-9_ ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*(\[\])?\s*$")
_VARCHAR_NAMES = {"varchar", "character varying", "nvarchar", "national varchar"}
_TEXT_NAMES = {"text", "tinytext", "mediumtext", "longtext"}


def _parse_type(text: str) -> Optional[Tuple[str, Optional[int], Optional[int], bool]]:
    m = _TYPE_RE.match(text.lower().split(" collate ")[0].split(" character set ")[0])
    if not m:
        return None
    return (
        m.group(1).strip(),
        int(m.group(2)) if m.group(2) else None,
        int(m.group(3)) if m.group(3) else None,
        bool(m.group(4)),
    )


def _type_change(dialect: str, prior: str, new: str) -> str:
    """'same', 'safe' (binary-coercible widening), 'rewrite' (MySQL copy across the length prefix) or 'change'."""
    a = _parse_type(prior)
    b = _parse_type(new)
    if a is None or b is None:
        return "change"
    if a == b:
        return "same"
    an, al, ascale, aarr = a
    bn, bl, bscale, barr = b
    if aarr != barr:
        return "change"
    aliases = {"int": "integer", "int4": "integer", "int8": "bigint", "int2": "smallint", "bool": "boolean"}
    an, bn = aliases.get(an, an), aliases.get(bn, bn)
    if an == bn and al == bl and ascale == bscale:
        return "same"
    if dialect == "postgresql":
        if an in _VARCHAR_NAMES and (bn == "text" or (bn in _VARCHAR_NAMES and (bl is None or (al and bl >= al)))):
            return "safe"
        if an == "text" and bn in _VARCHAR_NAMES and bl is None:
            return "safe"
        if an in ("numeric", "decimal") and bn == an and ascale == bscale and al and (bl is None or bl >= al):
            return "safe"
        return "change"
    if dialect == "sqlite":
        # SQLite stores by type affinity and enforces no length: varchar(255) -> varchar(768) changes nothing
        return "same" if _sqlite_affinity(prior) == _sqlite_affinity(new) else "change"
    if dialect == "mysql":
        if an in _VARCHAR_NAMES and bn in _VARCHAR_NAMES and al and bl and bl >= al:
            # utf8mb4: 4 bytes a character; the length prefix grows from 1 to 2 bytes past 255 bytes.
            return "safe" if (al * 4 > 255) == (bl * 4 > 255) else "rewrite"
        return "change"
    return "change"


def _sqlite_affinity(declared: str) -> str:
    """The column affinity SQLite derives from a declared type (section 3.1 of its datatype documentation)."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "TEXT"
    if "BLOB" in t or not t.strip():
        return "BLOB"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "REAL"
    return "NUMERIC"


# --------------------------------------------------------------------------------------------------------------
# The analyser


class _Ctx:
    """Where a statement sits: file offsets, nesting, and the outermost statement (for waivers)."""

    __slots__ = ("start", "outer_start_line", "outer_end_line", "depth", "label")

    def __init__(self, start: int, outer_start_line: int, outer_end_line: int, depth: int, label: str = "") -> None:
        self.start = start
        self.outer_start_line = outer_start_line
        self.outer_end_line = outer_end_line
        self.depth = depth
        self.label = label


class _NewColumn:
    __slots__ = ("table", "col")

    def __init__(self, table: str, col: _ColumnDef) -> None:
        self.table = table
        self.col = col


_SQLISH_RE = re.compile(
    r"^\s*(ALTER|DROP|CREATE|RENAME|UPDATE|DELETE|TRUNCATE|INSERT|LOCK|OPTIMIZE|REPLACE|VACUUM|CLUSTER|REINDEX)\b",
    re.IGNORECASE,
)
_ALTERISH = frozenset(("ALTER", "DROP", "RENAME", "TRUNCATE", "MODIFY", "CHANGE", "OPTIMIZE", "REPLACE"))
_SAFE_HEADS = frozenset(
    """SELECT VALUES INSERT SET RESET SHOW BEGIN START COMMIT END ROLLBACK SAVEPOINT RELEASE COMMENT GRANT REVOKE
    PRAGMA ANALYZE ANALYSE EXPLAIN USE NOTIFY LISTEN UNLISTEN DISCARD DEALLOCATE DECLARE UNLOCK FLUSH CHECKPOINT
    SECURITY LOAD HANDLER DESCRIBE DESC FETCH CLOSE MOVE PREPARE CHECK CHECKSUM REPAIR""".split()
)


class Analyzer:
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
        self.new_columns: Dict[Tuple[str, str], _ColumnDef] = {}
        self.not_valid: Dict[str, Tuple[str, int, str]] = {}  # constraint -> (kind, tx, table)
        self.tx = 0
        self.stmt_index = 0
        self.routines: Dict[str, Tuple[str, int]] = {}  # name -> (body text, file offset)
        self.routines_run: Set[str] = set()
        self.user_vars: Dict[str, List[Tuple[str, int]]] = {}
        self.prepared: Dict[str, List[Tuple[str, int]]] = {}
        self.rebuild_targets: Dict[str, str] = {}  # old table -> new table created in this file
        self.rebuilt: Set[str] = set()
        self.table_defs: Dict[str, List[_ColumnDef]] = {}
        self.copies: Dict[str, Tuple[str, List[str], List[Optional[str]], bool]] = {}
        self.fk_checks_off = False
        self.lexed = 0
        self.unreadable = 0
        #: not one statement of the file reads as SQL: it is no migration, and nothing of it may be quoted
        self.not_sql = False
        # Prisma writes what a rebuild drops in a comment; that is the old definition we cannot see otherwise
        self.declared_drops: Dict[str, Set[str]] = {}
        for m in _PRISMA_DROP_RE.finditer(text):
            self.declared_drops.setdefault(_norm(m.group(2)), set()).add(_norm(m.group(1)))
        self.recreated: Set[str] = set()
        self.or_replace = False
        self.recreate_pending: Dict[str, Optional[Tuple[_Ctx, str]]] = {}
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

    def at(self, ctx: _Ctx, text: str) -> Dict[str, object]:
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
        self, ctx: _Ctx, text: str, what: str, changes_existing: bool, severity: str = "error", force: bool = False
    ) -> None:
        self.emit(
            ev.Undetermined(
                what=what, changes_existing=changes_existing, severity=severity, force=force, **self.at(ctx, text)
            )
        )

    # ---- entry

    def run(self) -> None:
        masked, problem = mask(self.text, self.dialect)
        pieces, split_error = _split_checked(self.text, masked, self.dialect)
        if problem is None and split_error is not None:
            problem = (split_error.offset, "")
        self._prescan(pieces)
        read = 0
        for piece in pieces:
            if problem is not None and (piece.end > problem[0] or ";" not in masked[piece.end : problem[0]]):
                break  # the statement runs into the unterminated quote; reported below
            read += 1
            ctx = _Ctx(piece.start, self.line_of(piece.start), self.line_of(piece.end), 0)
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
            ctx = _Ctx(offset, self.line_of(offset), self.line_of(len(self.text)), 0)
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
            ctx = _Ctx(0, 1, 1, 0)
            self.undetermined(
                ctx, "", "no SQL statement found in this file (empty, or only comments)", True, severity="warning"
            )
        elif self.unreadable == len(pieces):
            self.not_sql = True
            ctx = _Ctx(pieces[0].start, 1, 1, 0)
            self.undetermined(
                ctx,
                pieces[0].text[:80],
                "not one statement of this file reads as SQL: is it the right file, encoding and dialect?",
                changes_existing=True,
                force=True,
            )

    def _prescan(self, pieces: List[_Piece]) -> None:
        """Find SQLite-style rebuilds: DROP TABLE x ... ALTER TABLE <new> RENAME TO x."""
        created: Set[str] = set()
        dropped: Set[str] = set()
        for piece in pieces:
            head = piece.masked[:400]
            m = re.match(r"\s*CREATE\s+(?:TEMP\w*\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([^\s(]+)", head, re.I)
            if m:
                name = _unquote_name(m.group(1))
                created.add(name)
                if name in dropped:
                    self.recreated.add(name)
                continue
            m = re.match(r"\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?([^\s;,]+)", head, re.I)
            if m:
                dropped.add(_unquote_name(m.group(1)))
                continue
            m = re.match(r"\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?([^\s]+)\s+RENAME\s+TO\s+([^\s;]+)", head, re.I)
            if m:
                new, old = _unquote_name(m.group(1)), _unquote_name(m.group(2))
                if new in created:
                    self.rebuild_targets[old] = new

    # ---- statements

    def statement(self, text: str, masked: str, ctx: _Ctx) -> None:
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

    def classify(self, toks: List[Token], text: str, ctx: _Ctx) -> None:
        cur = _Cur(toks)
        # labels / leading parentheses (a parenthesised SELECT)
        w = cur.word()
        if not w:
            if cur.punct() == "(":
                return
            self.unparsed(ctx, text, toks)
            return
        if w == "WITH":
            self.with_query(cur, text, ctx)
            return
        if w == "CREATE":
            self.create(cur, text, ctx)
        elif w == "ALTER":
            self.alter(cur, text, ctx)
        elif w == "DROP":
            self.drop(cur, text, ctx)
        elif w == "RENAME":
            self.rename_tables(cur, text, ctx)
        elif w == "TRUNCATE":
            cur.i += 1
            cur.accept("TABLE")
            cur.accept("ONLY")
            tables = [_first_name(p) for p in _split_top(cur.rest())]
            old = [t for t in tables if t and not self.is_new(t)]
            if old:
                self.emit(ev.DataWide(table=old[0], verb="truncate", **self.at(ctx, text)))
        elif w == "DELETE":
            self.delete(cur, text, ctx)
        elif w == "UPDATE":
            self.update(cur, text, ctx)
        elif w in ("INSERT", "REPLACE"):
            self.insert(cur, text, ctx)
        elif w == "LOCK":
            self.lock(cur, text, ctx)
        elif w == "DO":
            self.do_block(cur, text, ctx)
        elif w == "CALL" or w == "PERFORM" or w == "SELECT":
            self.calls(toks, text, ctx)
            if w == "SELECT" and self.dialect == "mysql":
                self.select_into_var(toks, ctx)
        elif w == "EXECUTE":
            self.execute(cur, text, ctx)
        elif w == "SET":
            self.set_stmt(cur, text, ctx)
        elif w == "PREPARE":
            self.prepare(cur, text, ctx)
        elif w in ("COMMIT", "END", "ROLLBACK") or (w == "BEGIN" and self.dialect != "mysql"):
            self.tx += 1
        elif w == "VACUUM":
            if "FULL" in [t.v for t in toks[1:4] if t.kind == "w"] or cur.punct(1) == "(" and "FULL" in _words(toks):
                self.emit(ev.TableRebuild(how="vacuum_full", **self.at(ctx, text)))
        elif w == "CLUSTER":
            self.emit(ev.TableRebuild(how="cluster", **self.at(ctx, text)))
        elif w == "REINDEX":
            concurrently = "CONCURRENTLY" in _words(toks)
            self.emit(ev.CreateIndex(reindex=True, concurrently=concurrently, **self.at(ctx, text)))
        elif w == "REFRESH":
            if "CONCURRENTLY" not in _words(toks):
                self.emit(ev.TableRebuild(how="refresh_mv", **self.at(ctx, text)))
        elif w == "OPTIMIZE":
            self.emit(ev.TableRebuild(how="optimize", **self.at(ctx, text)))
        elif w == "COPY":
            return
        elif w in _SAFE_HEADS:
            return
        else:
            self.unparsed(ctx, text, toks)

    def unparsed(self, ctx: _Ctx, text: str, toks: Sequence[Token], what: str = "") -> None:
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

    # ---- CREATE

    def create(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
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
            cur.i += 1
            name = cur.name()
            body = next((t for t in cur.rest() if t.kind == "d"), None)
            if name and body is not None:
                self.routines[name] = (body.v, ctx.start + body.off)
            elif name:
                # MySQL / SQL-standard body: everything from the first BEGIN at depth 0
                rest = cur.rest()
                for i, word in _top_words(rest):
                    if word in ("BEGIN", "RETURN"):
                        self.routines[name] = (text[rest[i].off :], ctx.start + rest[i].off)
                        break
        elif w in ("VIEW", "SCHEMA", "DATABASE", "MATERIALIZED", "RECURSIVE"):
            while cur.accept_any("MATERIALIZED", "RECURSIVE", "VIEW", "SCHEMA", "DATABASE"):
                pass
            cur.accept("IF", "NOT", "EXISTS")
            name = cur.name()
            if name:
                self.created_objects.add(name)
                if w in ("VIEW", "MATERIALIZED", "RECURSIVE"):
                    self.catalog.views.add(name)
        else:
            return  # sequences, types, extensions, triggers, roles ... add things

    def create_table(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
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
        cols: List[_ColumnDef] = []
        if cur.punct() == "(":
            for part in _split_top(cur.skip_group()):
                first = part[0].v if part[0].kind == "w" else ""
                if first in ("CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "KEY", "INDEX", "EXCLUDE") or (
                    first in ("FULLTEXT", "SPATIAL", "LIKE")
                ):
                    self.remember_constraint(name, part, validated=True)
                    if first == "PRIMARY" or (first == "CONSTRAINT" and "PRIMARY" in _words(part)):
                        names = _group_names(part)
                        for c in cols:
                            # a key of several columns makes none of them unique on its own
                            if c.name in names and len(names) == 1:
                                c.primary_key = True
                    continue
                col = _parse_column(part)
                if col is not None:
                    cols.append(col)
        for c in cols:
            info.columns[c.name] = c.info()
            info.columns[c.name].source = self.source
            self.remember_column_constraints(name, c)
        self.table_defs[name] = cols
        if not (self.catalog.authoritative and name in self.catalog.tables and name not in self.rebuilt):
            self.catalog.tables[name] = info

    def create_index(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
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

    # ---- ALTER

    def alter(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
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
            actions = _split_top(cur.rest())
            self.alter_table(table, actions, text, ctx)
        elif w in ("VIEW", "MATERIALIZED"):
            cur.accept("MATERIALIZED")
            cur.i += 1
            cur.accept("IF", "EXISTS")
            name = cur.name()
            if cur.accept("RENAME"):
                if cur.word() == "TO":
                    self.emit(ev.RenameTable(old=name or "", kind="view", **self.at(ctx, text)))
                elif cur.accept("COLUMN") or cur.word(1) == "TO":
                    self.emit(ev.RenameColumn(table=name or "", via="view", **self.at(ctx, text)))
            elif cur.accept("SET", "SCHEMA"):
                self.emit(ev.RenameTable(old=name or "", kind="view", moved_schema=True, **self.at(ctx, text)))
            elif cur.accept("SET", "TABLESPACE"):
                self.emit(ev.TableRebuild(table=name or "", how="tablespace_mv", **self.at(ctx, text)))
            elif cur.accept("AS"):  # mysql ALTER VIEW v AS SELECT: may remove columns
                self.emit(ev.DropView(name=name or "", redefined=True, **self.at(ctx, text)))
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
            cur.i += 1
            name = cur.name()
            rest = _words(cur.rest())
            if rest[:2] == ["ADD", "VALUE"] or rest[:1] in (["OWNER"], ["SET"]):
                return
            if rest[:1] == ["RENAME"] and rest[1:2] == ["TO"]:
                return  # columns keep their type; only DDL naming the type changes
            if rest[:2] == ["ADD", "ATTRIBUTE"]:
                return
            self.emit(ev.AlterNamedType(name=name or "", **self.at(ctx, text)))
        elif w in (
            "SEQUENCE",
            "FUNCTION",
            "PROCEDURE",
            "ROLE",
            "USER",
            "DEFAULT",
            "EXTENSION",
            "TRIGGER",
            "DOMAIN",
            "POLICY",
            "PUBLICATION",
            "SUBSCRIPTION",
            "EVENT",
            "AGGREGATE",
            "OPERATOR",
            "COLLATION",
            "TEXT",
            "STATISTICS",
            "SYSTEM",
            "LARGE",
            "SERVER",
            "FOREIGN",
            "LANGUAGE",
            "TABLESPACE",
            "CONVERSION",
            "RULE",
            "INSTANCE",
            "LOGFILE",
            "RESOURCE",
        ):
            if w == "DOMAIN" and "ADD" in _words(cur.rest()) and "NOT" not in _words(cur.rest())[-2:]:
                self.emit(ev.AddConstraint(kind="domain", **self.at(ctx, text)))
            return
        else:
            self.unparsed(ctx, text, cur.t)

    def alter_table(self, table: str, actions: List[List[Token]], text: str, ctx: _Ctx) -> None:
        new_table = self.is_new(table) or table in self.rebuilt
        fk_added = False
        pk_dropped = False
        pk_added = False
        for action in actions:
            cur = _Cur(action)
            w = cur.word()
            if w == "ADD":
                cur.i += 1
                res = self.alter_add(table, cur, text, ctx, new_table)
                fk_added = fk_added or res == "fk"
                pk_added = pk_added or res == "pk"
            elif w == "DROP":
                cur.i += 1
                res = self.alter_drop(table, cur, text, ctx, new_table)
                pk_dropped = pk_dropped or res == "pk"
            elif w == "ALTER":
                cur.i += 1
                self.alter_column(table, cur, text, ctx, new_table)
            elif w in ("MODIFY", "CHANGE"):
                cur.i += 1
                cur.accept("COLUMN")
                self.modify_column(table, w, cur, text, ctx, new_table)
            elif w == "RENAME":
                cur.i += 1
                self.alter_rename(table, cur, text, ctx, new_table)
            elif w == "VALIDATE":
                cur.i += 1
                cur.accept("CONSTRAINT")
                name = cur.name()
                known_check = self.catalog.checks.get(table, {}).get(name or "")
                if known_check is not None:
                    self.catalog.checks[table][name or ""] = (known_check[0], True)
                pending = self.not_valid.get(name or "")
                if pending and not new_table:
                    self.emit(
                        ev.ValidateConstraint(
                            table=table,
                            name=name or "",
                            kind=pending[0],
                            same_transaction=pending[1] == self.tx,
                            **self.at(ctx, text),
                        )
                    )
            elif w == "SET":
                cur.i += 1
                if cur.accept("TABLESPACE") or cur.accept("LOGGED") or cur.accept("UNLOGGED"):
                    if not new_table:
                        self.emit(ev.TableRebuild(table=table, how="tablespace", **self.at(ctx, text)))
                elif cur.accept("ACCESS", "METHOD"):
                    if not new_table:
                        self.emit(ev.TableRebuild(table=table, how="access_method", **self.at(ctx, text)))
                elif cur.accept("SCHEMA"):
                    if not new_table:
                        self.emit(ev.RenameTable(old=table, moved_schema=True, **self.at(ctx, text)))
                # SET (storage params), WITHOUT CLUSTER/OIDS, STATISTICS: metadata
            elif w in ("ALGORITHM", "LOCK"):
                if not new_table:
                    self.mysql_alter_options(table, action, text, ctx)
            elif w in ("ENGINE", "ROW_FORMAT", "FORCE", "KEY_BLOCK_SIZE", "COMPRESSION", "ENCRYPTION") and not (
                w == "FORCE" and cur.word(1) == "ROW"
            ):
                if not new_table:
                    self.emit(ev.TableRebuild(table=table, how="engine", option=w, **self.at(ctx, text)))
            elif w == "CONVERT":
                if not new_table:
                    self.emit(ev.AlterNamedType(name=table, convert_charset=True, **self.at(ctx, text)))
            elif w in (
                "OWNER",
                "ENABLE",
                "DISABLE",
                "REPLICA",
                "CLUSTER",
                "INHERIT",
                "NO",
                "OF",
                "NOT",
                "DEFAULT",
                "CHARACTER",
                "CHARSET",
                "COLLATE",
                "COMMENT",
                "AUTO_INCREMENT",
                "STATS_PERSISTENT",
                "STATS_AUTO_RECALC",
                "STATS_SAMPLE_PAGES",
                "AVG_ROW_LENGTH",
                "MAX_ROWS",
                "MIN_ROWS",
                "PACK_KEYS",
                "CHECKSUM",
                "DELAY_KEY_WRITE",
                "RESET",
                "ORDER",
                "ATTACH",
                "FORCE",
                "WITHOUT",
                "ADD",
            ):
                continue
            elif w == "DETACH":
                if not new_table:
                    self.emit(ev.DropTable(table=table, how="detach_partition", **self.at(ctx, text)))
            elif w == "" and cur.peek() is not None and cur.peek().kind in ("q",):
                self.unparsed(ctx, text, action, "cannot read this ALTER TABLE action")
            else:
                self.undetermined(
                    ctx,
                    text,
                    "cannot read the ALTER TABLE action starting with %r" % (action[0].raw,),
                    changes_existing=True,
                    severity="error" if not new_table else "warning",
                )
        if (pk_added or pk_dropped) and not new_table:
            self.emit(ev.PrimaryKeyChange(table=table, added=pk_added, dropped=pk_dropped, **self.at(ctx, text)))
        del fk_added

    def mysql_alter_options(self, table: str, toks: Sequence[Token], text: str, ctx: _Ctx) -> None:
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

    def alter_add(self, table: str, cur: _Cur, text: str, ctx: _Ctx, new_table: bool) -> str:
        constraint = None
        if cur.accept("CONSTRAINT"):
            if cur.word() not in ("CHECK", "UNIQUE", "PRIMARY", "FOREIGN", "EXCLUDE"):
                constraint = cur.name()
        w = cur.word()
        rest_words = _words(cur.rest())
        not_valid = "NOT" in rest_words and "VALID" in rest_words
        if w in ("CHECK", "UNIQUE", "PRIMARY", "FOREIGN", "EXCLUDE") or (
            w in ("INDEX", "KEY", "FULLTEXT", "SPATIAL") and self.dialect == "mysql"
        ):
            if constraint:
                self.created_constraints.add(constraint)
            self.remember_constraint(table, cur.t[cur.i :], validated=not not_valid, name=constraint or "")
            if w == "PRIMARY":
                using_index = "USING" in rest_words and "INDEX" in rest_words
                if new_table:
                    return ""
                if using_index:
                    return "pk"  # still a primary-key change, but built online
                return "pk"
            if new_table:
                if not_valid and constraint:
                    self.not_valid[constraint] = ("fk" if w == "FOREIGN" else "check", self.tx, table)
                return ""
            if w in ("CHECK", "FOREIGN", "UNIQUE", "EXCLUDE"):
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
            return ""  # mysql ADD INDEX/KEY/FULLTEXT: online
        # a column (COLUMN keyword optional)
        cur.accept("COLUMN")
        cur.accept("IF", "NOT", "EXISTS")
        if cur.punct() == "(":
            parts = _split_top(cur.skip_group())
        else:
            parts = [cur.rest()]
        for part in parts:
            col = _parse_column(part)
            if col is None:
                self.unparsed(ctx, text, part, "cannot read the added column")
                continue
            self.add_column(table, col, text, ctx, new_table)
        return ""

    def add_column(self, table: str, col: _ColumnDef, text: str, ctx: _Ctx, new_table: bool) -> None:
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
            fn = _default_volatility(col.default_toks)
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

    def alter_drop(self, table: str, cur: _Cur, text: str, ctx: _Ctx, new_table: bool) -> str:
        w = cur.word()
        if cur.accept("PRIMARY", "KEY"):
            return "" if new_table else "pk"
        if w in ("CONSTRAINT", "INDEX", "KEY", "FOREIGN", "CHECK", "UNIQUE"):
            cur.i += 1
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
            if w in ("FOREIGN", "CHECK"):
                return ""  # the statement says its kind
            if was_unique is not False:
                # known unique, or of unknown kind: the worst case is the UNIQUE constraint the old version's
                # ON CONFLICT or single-row look-up relies on
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
            return ""  # a CHECK / FK / plain index known as such (MySQL drops indexes online): relaxing
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

    def drop_unique(self, event: ev.DropIndex) -> None:
        """Emit the drop; its drop_unique_constraint finding is withdrawn if the file re-creates that unique index."""
        for finding in self.emit(event):
            if finding.rule == "drop_unique_constraint" and len(event.unique_names) == 1:
                self.unique_drops[event.unique_names[0]] = finding

    def remember_constraint(self, table: str, part: Sequence[Token], validated: bool, name: str = "") -> None:
        """Record a table constraint's kind in the catalog: unique (UNIQUE / PRIMARY KEY) or not, and CHECKs."""
        words = _words(part)
        if not name and words[:1] == ["CONSTRAINT"] and len(part) > 1:
            name = _unquote_name(part[1].raw)
        if not name and self.dialect == "mysql":
            name = _inline_index_name(part)  # KEY name (...), UNIQUE INDEX name (...)
        if not name and self.dialect == "postgresql":
            name = _pg_default_name(table, words[:1][0] if words else "", _ordered_group_names(part))
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
            self.catalog.checks.setdefault(table, {})[name] = (_not_null_check_column(part), validated)

    def remember_column_constraints(self, table: str, col: _ColumnDef) -> None:
        """(PostgreSQL) the kinds of the constraints a column definition declares, under the names PostgreSQL gives
        them (``<table>_pkey``, ``<table>_<column>_key``, ``<table>_<column>_fkey``), so that a later DROP
        CONSTRAINT of one of them is judged by what it is."""
        if self.dialect != "postgresql":
            return
        for word, unique in (("PRIMARY", True), ("UNIQUE", True), ("FOREIGN", False)):
            if not {"PRIMARY": col.primary_key, "UNIQUE": col.unique, "FOREIGN": col.references}[word]:
                continue
            name = _pg_default_name(table, word, [col.name])
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

    def alter_column(self, table: str, cur: _Cur, text: str, ctx: _Ctx, new_table: bool) -> None:
        if cur.accept("CONSTRAINT") or cur.accept("INDEX") or cur.accept("CHECK"):
            return  # deferrability / visibility: metadata
        cur.accept("COLUMN")
        col = cur.name()
        if col is None:
            self.unparsed(ctx, text, cur.t, "cannot read the altered column")
            return
        new_col = self.new_columns.get((table, col))
        known = self.catalog.column(table, col)
        if known is None and new_col is not None:
            known = new_col.info()
        if cur.accept("SET", "DATA", "TYPE") or cur.accept("TYPE"):
            start = cur.i
            while not cur.at_end() and cur.word() not in ("USING", "COLLATE"):
                if cur.punct() == "(":
                    cur.skip_group()
                else:
                    cur.i += 1
            new_type = _type_text(cur.t[start : cur.i])
            using = "USING" in _words(cur.rest())
            collate = "COLLATE" in _words(cur.rest())
            self.type_change(table, col, known, new_type, text, ctx, new_table, new_col is not None, using, collate)
        elif cur.accept("SET", "NOT", "NULL"):
            if known is not None:
                was_not_null = known.not_null
                known.not_null = True
                known.source = self.source
                if was_not_null:
                    return
            if new_table:
                return
            if new_col is not None:
                new_col.not_null = True
            self.emit(
                ev.SetNotNull(
                    table=table,
                    column=col,
                    new_column=new_col is not None,
                    fills_itself=new_col is not None and new_col.fills_itself,
                    proven_by=(self.not_null_check(table, col) or "") if new_col is None else "",
                    **self.at(ctx, text),
                )
            )
        elif cur.accept("DROP", "DEFAULT"):
            if known is not None:
                known.has_default = False
            if new_col is not None and not new_table:
                was = new_col.fills_itself
                new_col.has_default = False
                self.emit(
                    ev.DropDefault(
                        table=table,
                        column=col,
                        new_column=True,
                        not_null=new_col.not_null,
                        filled_before=was,
                        fills_now=new_col.fills_itself,
                        **self.at(ctx, text),
                    )
                )
            elif not new_table:
                # a column nothing knows may be NOT NULL: the worst case, whose INSERTs need the default
                self.emit(
                    ev.DropDefault(
                        table=table,
                        column=col,
                        not_null=known.not_null if known is not None else True,
                        prior_known=known is not None,
                        column_unknown=known is None,
                        **self.at(ctx, text),
                    )
                )
        elif cur.accept("SET", "DEFAULT"):
            if new_col is not None:
                new_col.has_default = True
            if known is not None:
                known.has_default = True
        elif cur.accept("DROP", "NOT", "NULL"):
            if known is not None:
                known.not_null = False
        elif cur.accept("ADD", "GENERATED"):
            if not new_table and new_col is None:
                self.emit(ev.AddVolatileDefault(table=table, column=col, **self.at(ctx, text)))
        elif cur.accept("DROP", "EXPRESSION") or cur.accept("DROP", "IDENTITY"):
            return
        elif cur.word() in ("SET", "RESET", "DROP"):
            return  # statistics, storage, compression, visibility, options
        else:
            self.unparsed(ctx, text, cur.t, "cannot read this ALTER COLUMN action")

    def type_change(
        self,
        table: str,
        col: str,
        known: Optional[ColumnInfo],
        new_type: str,
        text: str,
        ctx: _Ctx,
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
        change = _type_change(self.dialect, prior, new_type) if prior else ""
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
                and (_parse_type(new_type) or ("",))[0] in _VARCHAR_NAMES | {"text"},
                **self.at(ctx, text),
            )
        )

    def modify_column(self, table: str, verb: str, cur: _Cur, text: str, ctx: _Ctx, new_table: bool) -> None:
        old_name = None
        if verb == "CHANGE":
            old_name = cur.name()
        col = _parse_column(cur.rest())
        if col is None:
            self.unparsed(ctx, text, cur.t, "cannot read the column definition")
            return
        old = old_name or col.name
        known = self.catalog.column(table, old)
        new_col = self.new_columns.get((table, old))
        free = new_table or new_col is not None
        if new_col is not None and not new_table:
            prior = known.type if known is not None else new_col.type
            new_col.type = col.type
            self.emit(
                ev.AlterType(
                    table=table,
                    column=col.name,
                    old_type=prior,
                    new_type=col.type,
                    change=_type_change(self.dialect, prior, col.type) if prior else "change",
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
        prior_type = known.type if known is not None else ""
        prior_not_null = known.not_null if known is not None else None
        source = known.source if known is not None else ""
        if old != col.name and known is None:
            return  # a rename restates the definition; without the prior one only the rename is certain
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
                change=_type_change(self.dialect, prior_type, col.type) if prior_type else "",
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

    def alter_rename(self, table: str, cur: _Cur, text: str, ctx: _Ctx, new_table: bool) -> None:
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

    def _rename_table(self, old: str, new: str, text: str, ctx: _Ctx, new_table: bool) -> None:
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

    def rename_tables(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
        cur.i += 1
        if not cur.accept_any("TABLE", "TABLES"):
            self.unparsed(ctx, text, cur.t)
            return
        for part in _split_top(cur.rest()):
            pc = _Cur(part)
            old = pc.name()
            pc.accept("TO")
            new = pc.name()
            if old and new:
                self._rename_table(old, new, text, ctx, self.is_new(old))

    # ---- DROP

    def drop(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
        cur.i += 1
        cur.accept_any("TEMPORARY", "TEMP")
        w = cur.word()
        if w == "TABLE" or w == "TABLES":
            cur.i += 1
            if_exists = cur.accept("IF", "EXISTS")
            for part in _split_top(cur.rest()):
                name = _first_name(part)
                if not name:
                    continue
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
                    continue
                if (name in self.rebuild_targets or name in self.recreated) and not self.is_new(name):
                    self.rebuilt.add(name)
                    if name in self.recreated:
                        self.recreate_pending[name] = None
                    continue
                if self.is_new(name):
                    self.created_tables.discard(name)
                    continue
                self.catalog.tables.pop(name, None)
                self.emit(ev.DropTable(table=name, **self.at(ctx, text)))
        elif w in ("VIEW", "MATERIALIZED", "SCHEMA", "DATABASE"):
            while cur.accept_any("MATERIALIZED", "VIEW", "SCHEMA", "DATABASE"):
                pass
            cur.accept("IF", "EXISTS")
            names = [_first_name(p) for p in _split_top(cur.rest())]
            if names and all(n in self.created_objects for n in names if n):
                return
            first = next((n for n in names if n), "")
            if w in ("VIEW", "MATERIALIZED"):
                self.emit(ev.DropView(name=first, **self.at(ctx, text)))
            else:
                self.emit(ev.DropSchema(name=first, **self.at(ctx, text)))
        elif w == "INDEX":
            cur.i += 1
            concurrently = bool(cur.accept("CONCURRENTLY"))
            cur.accept("IF", "EXISTS")
            names = [_first_name(p) for p in _split_top(cur.rest())]
            table = None
            rest = _words(cur.rest())
            if "ON" in rest:  # mysql / sqlite-less: DROP INDEX i ON t
                pc = _Cur(cur.rest())
                pc.name()
                pc.accept("ON")
                table = pc.name()
                names = names[:1]
            new = [n for n in names if n in self.created_indexes]
            old = [n for n in names if n and n not in self.created_indexes]
            kinds = {n: self.unique_name(n) for n in old}
            unique = [n for n in old if kinds[n] is not False]  # known unique, or unknown: the worst case
            known = {n: self.catalog.indexes.get(n, "") for n in unique if kinds[n]}
            for n in names:
                if n:
                    self.catalog.indexes.pop(n, None)
                    self.catalog.unique_indexes.discard(n)
            if not old or self.is_new(table):
                return
            self.drop_unique(
                ev.DropIndex(
                    table=table or "",
                    names=tuple(old),
                    unique_names=tuple(unique),
                    unique_source=known.get(unique[0], "") if unique else "",
                    kind_unknown=tuple(n for n in unique if kinds[n] is None),
                    concurrently=concurrently,
                    **self.at(ctx, text),
                )
            )
            del new
        elif w in ("FUNCTION", "PROCEDURE", "TRIGGER", "SEQUENCE", "TYPE", "DOMAIN", "EXTENSION"):
            if "CASCADE" in _words(cur.rest()) and w in ("TYPE", "DOMAIN", "EXTENSION"):
                self.undetermined(
                    ctx, text, "DROP %s ... CASCADE also drops the columns that use it; drop those explicitly" % w, True
                )
        elif w in (
            "POLICY",
            "RULE",
            "EVENT",
            "CAST",
            "OPERATOR",
            "AGGREGATE",
            "COLLATION",
            "STATISTICS",
            "PUBLICATION",
        ):
            return  # removes no data or column the old version reads
        else:
            self.unparsed(
                ctx, text, cur.t, "DROP %s: not a table/column/view/index; review what still uses it" % (w or "?")
            )

    # ---- data

    def delete(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
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

    def update(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
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
        top = _top_words(toks)
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
        return not _tautology(cond)

    def insert(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
        """INSERT is safe. INSERT ... SELECT is remembered: it shows which columns a table has (rebuilds)."""
        cur.i += 1
        while cur.accept_any("INTO", "IGNORE", "OR", "REPLACE", "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY"):
            pass
        target = cur.name()
        if target is None:
            return
        cols: List[str] = []
        if cur.punct() == "(":
            cols = [n for n in (_first_name(p) for p in _split_top(cur.skip_group())) if n]
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
        parts = _split_top(sel_toks)
        exprs = [_expr_source(e) for e in parts]
        reads = self.reads.setdefault(source, set())
        for e in parts:
            reads.update(_expr_columns(e))
        if target in self.created_tables:
            self.copies[target] = (source, cols, exprs)
            pending = self.recreate_pending.get(target)
            if pending is not None and source in self.created_tables:
                del self.recreate_pending[target]
                self.finish_rebuild(target, target, pending[1], pending[0], via=source)

    def finish_rebuild(self, old: str, new: str, text: str, ctx: _Ctx, via: Optional[str] = None) -> None:
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
                        change=_type_change("sqlite", pcol.type, ncol.type),
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

    # ---- locks

    def lock(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
        cur.i += 1
        cur.accept_any("TABLE", "TABLES")
        cur.accept("ONLY")
        names = [_first_name(p) for p in _split_top(cur.rest())]
        if all(self.is_new(n) for n in names if n):
            return
        words = _words(cur.rest())
        mode = ""
        if "MODE" in words and "IN" in words:
            mode = " ".join(words[words.index("IN") + 1 : words.index("MODE")])
        self.emit(ev.LockTable(tables=tuple(n for n in names if n), mode=mode, **self.at(ctx, text)))

    # ---- WITH

    def with_query(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
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

    # ---- bodies that run now

    def body(self, body: str, offset: int, ctx: _Ctx, label: str) -> None:
        if ctx.depth >= MAX_BODY_DEPTH:
            return
        masked, problem = mask(body, self.dialect)
        if problem is not None:
            self.undetermined(ctx, body, "unterminated %s inside this body" % problem[1], True)
            return
        in_declare = False
        for piece in _split(body, masked, self.dialect):
            m = piece.masked
            if self.dialect == "postgresql" and (in_declare or re.match(r"\s*(?:<<\s*\w+\s*>>\s*)?DECLARE\b", m, re.I)):
                in_declare = True
                b = re.search(r"\bBEGIN\b", m, re.I)
                if not b:
                    continue
                in_declare = False
                start = _strip_control(m, self.dialect, b.end())
            else:
                start = _strip_control(m, self.dialect)
            if start is None:
                continue
            if self.dialect == "postgresql":
                pass
            elif re.match(r"\s*DECLARE\b", m[start:], re.I):
                continue
            text = piece.text[start:].strip()
            if not text:
                continue
            lead = len(piece.text[start:]) - len(piece.text[start:].lstrip())
            file_off = offset + piece.start + start + lead
            sub = _Ctx(file_off, ctx.outer_start_line, ctx.outer_end_line, ctx.depth + 1, label)
            head = re.match(r"[A-Za-z_]+", text)
            word = head.group(0).upper() if head else ""
            if word in ("RAISE", "RETURN", "NULL", "GET", "OPEN", "FETCH", "CLOSE", "EXIT", "CONTINUE", "LEAVE"):
                continue
            if word in ("ITERATE", "SIGNAL", "RESIGNAL", "ASSERT", "FOREACH"):
                continue
            if re.match(r"[A-Za-z_][\w.]*\s*:?=", text) and word not in ("SET", "UPDATE"):
                continue  # assignment
            if word == "EXECUTE" and self.dialect == "postgresql":
                self.plpgsql_execute(text, file_off, sub)
                continue
            if word == "PERFORM":
                text = "SELECT" + text[len("PERFORM") :]
            self.statement(text, mask(text, self.dialect)[0], sub)

    def do_block(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
        body = next((t for t in cur.rest() if t.kind == "d" or t.kind == "s"), None)
        if body is None and len(text) > MAX_LEX_CHARS:
            m = re.search(r"\$(\w*)\$(.*)\$\1\$", text, re.DOTALL)
            if m:
                body = Token("d", m.group(2), m.group(0), m.start(2))
        if body is None:
            self.unparsed(ctx, text, cur.t, "cannot find the body of this DO block")
            return
        lang = _words(cur.rest())
        if "LANGUAGE" in lang and lang[lang.index("LANGUAGE") + 1 : lang.index("LANGUAGE") + 2] not in (
            ["PLPGSQL"],
            [],
        ):
            self.unparsed(ctx, text, cur.t, "DO block in a language the checker cannot read")
            return
        self.body(body.v, ctx.start + body.off + (0 if body.kind == "d" else 1), ctx, "inside a DO block")

    def calls(self, toks: List[Token], text: str, ctx: _Ctx) -> None:
        for i, tok in enumerate(toks):
            if tok.kind != "w":
                continue
            name = _norm(tok.raw)
            if name in self.routines and name not in self.routines_run:
                nxt = toks[i + 1] if i + 1 < len(toks) else None
                if nxt is None or (nxt.kind == "p" and nxt.v in ("(", ";")):
                    self.routines_run.add(name)
                    body, off = self.routines[name]
                    self.body(body, off, ctx, "in routine %s, called by this file" % name)

    def plpgsql_execute(self, text: str, offset: int, ctx: _Ctx) -> None:
        toks = tokenize(text)
        lits = [t for t in toks[1:] if t.kind in ("s", "d")]
        words = _words(toks[1:])
        if not lits:
            self.undetermined(ctx, text, "EXECUTE of a dynamic string: the statement it runs is not in the file", False)
            return
        if (
            len(lits) == 1
            and "FORMAT" not in words
            and len([t for t in toks[1:] if t.kind == "p" and t.v == "||"]) == 0
        ):
            sql = lits[0].v
        else:
            sql = _placeholders(lits[0].v) if "FORMAT" in words else " _dynamic_ ".join(t.v for t in lits)
        self.string_sql(sql, offset + lits[0].off, ctx, "in EXECUTE")

    def string_sql(self, sql: str, offset: int, ctx: _Ctx, label: str) -> None:
        if ctx.depth >= MAX_BODY_DEPTH:
            return
        sub = _Ctx(offset, ctx.outer_start_line, ctx.outer_end_line, ctx.depth + 1, label)
        masked, problem = mask(sql, self.dialect)
        for piece in _split(sql, masked, self.dialect):
            self.statement(
                piece.text, piece.masked, _Ctx(offset, sub.outer_start_line, sub.outer_end_line, sub.depth, label)
            )

    def execute(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
        cur.i += 1
        if cur.accept("IMMEDIATE"):
            lit = next((t for t in cur.rest() if t.kind == "s"), None)
            if lit is not None:
                self.string_sql(lit.v, ctx.start + lit.off, ctx, "in EXECUTE IMMEDIATE")
            elif cur.word().startswith("@"):
                self.run_var(cur.word(), ctx, text)
            return
        name = cur.name()
        if name and name in self.prepared:
            self.alternatives(self.prepared.pop(name), ctx, "in prepared statement %s" % name)

    def alternatives(self, candidates: List[Tuple[str, int]], ctx: _Ctx, label: str) -> None:
        """Each candidate SQL text is one possible outcome (IF(cond, a, b)): judge each from the same state."""
        saved = (dict(self.new_columns), set(self.created_tables), set(self.created_indexes))
        for sql, off in candidates:
            self.new_columns, self.created_tables, self.created_indexes = (
                dict(saved[0]),
                set(saved[1]),
                set(saved[2]),
            )
            self.string_sql(sql, off, ctx, label)
        if len(candidates) > 1:
            self.new_columns, self.created_tables, self.created_indexes = saved

    def set_stmt(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
        toks = cur.t
        words = _words(toks)
        if self.dialect == "mysql":
            joined = " ".join(words)
            if re.search(r"FOREIGN_KEY_CHECKS\b", joined):
                vals = [t.v for t in toks if t.kind == "n"]
                self.fk_checks_off = bool(vals) and vals[-1] == "0"
            for part in _split_top(toks[1:]):
                if part and part[0].kind == "w" and part[0].v.startswith("@") and not part[0].v.startswith("@@"):
                    self.user_vars[part[0].v] = _sql_strings(part[2:], ctx.start)

    def select_into_var(self, toks: List[Token], ctx: _Ctx) -> None:
        words = _top_words(toks)
        for i, w in words:
            if w == "INTO" and i + 1 < len(toks) and toks[i + 1].kind == "w" and toks[i + 1].v.startswith("@"):
                self.user_vars[toks[i + 1].v] = _sql_strings(toks[1:i], ctx.start)

    def prepare(self, cur: _Cur, text: str, ctx: _Ctx) -> None:
        cur.i += 1
        name = cur.name()
        if not cur.accept("FROM") or name is None:
            return
        tok = cur.peek()
        if tok is None:
            return
        if tok.kind == "s":
            self.prepared[name] = [(tok.v, ctx.start + tok.off)]
        elif tok.kind == "w" and tok.v.startswith("@"):
            if tok.v not in self.user_vars:
                self.undetermined(
                    ctx,
                    text,
                    "PREPARE from %s, whose SQL text is not set in this file: the statement it runs is unknown"
                    % tok.raw,
                    False,
                )
                return
            self.prepared[name] = self.user_vars[tok.v]

    def run_var(self, var: str, ctx: _Ctx, text: str) -> None:
        self.alternatives(self.user_vars.get(var, []), ctx, "in EXECUTE IMMEDIATE")


# --------------------------------------------------------------------------------------------------------------
# Small pure helpers


def _words(toks: Sequence[Token]) -> List[str]:
    return [t.v for t in toks if t.kind == "w"]


def _unquote_name(raw: str) -> str:
    last = raw.split(".")[-1]
    return _norm(last.strip('"`[]'))


def _first_name(toks: Sequence[Token]) -> Optional[str]:
    return _Cur(list(toks)).name()


def _group_names(toks: Sequence[Token]) -> Set[str]:
    cur = _Cur(list(toks))
    while not cur.at_end() and cur.punct() != "(":
        cur.i += 1
    return {n for n in (_first_name(p) for p in _split_top(cur.skip_group())) if n}


def _inline_index_name(part: Sequence[Token]) -> str:
    """The name of a MySQL index declared without CONSTRAINT: ``KEY name (...)``, ``UNIQUE [KEY|INDEX] name``."""
    toks = list(part)
    i = 0
    while i < len(toks) and toks[i].kind == "w" and toks[i].v in ("UNIQUE", "FULLTEXT", "SPATIAL"):
        i += 1
    if i < len(toks) and toks[i].kind == "w" and toks[i].v in ("KEY", "INDEX"):
        i += 1
    elif i == 0:
        return ""
    if i < len(toks) and toks[i].kind != "p" and (toks[i].kind != "w" or toks[i].v != "USING"):
        return _unquote_name(toks[i].raw)
    return ""


def _ordered_group_names(part: Sequence[Token]) -> List[str]:
    """The names in the first parenthesised group of a constraint, in their order."""
    cur = _Cur(list(part))
    while not cur.at_end() and cur.punct() != "(":
        cur.i += 1
    if cur.at_end():
        return []
    return [n for n in (_first_name(p) for p in _split_top(cur.skip_group())) if n]


def _pg_default_name(table: str, kind: str, columns: Sequence[str]) -> str:
    """The name PostgreSQL gives an unnamed PRIMARY KEY, UNIQUE or FOREIGN KEY constraint, or "" (CHECKs and names
    past the 63-byte limit, which PostgreSQL shortens its own way, are left unknown)."""
    bare = table.rsplit(".", 1)[-1]
    if kind == "PRIMARY":
        name = bare + "_pkey"
    elif kind in ("UNIQUE", "FOREIGN") and columns:
        name = "%s_%s_%s" % (bare, "_".join(columns), "key" if kind == "UNIQUE" else "fkey")
    else:
        return ""
    return name if len(name.encode("utf-8")) <= 63 else ""


def _not_null_check_column(part: Sequence[Token]) -> str:
    """The column of a ``CHECK (col IS NOT NULL)`` constraint, or ""."""
    toks = list(part)
    for i, tok in enumerate(toks):
        if tok.kind == "w" and tok.v == "CHECK":
            inner = [t for t in toks[i + 1 :] if not (t.kind == "p" and t.v in ("(", ")"))]
            if len(inner) >= 4 and inner[0].kind in ("w", "q") and _words(inner[1:4]) == ["IS", "NOT", "NULL"]:
                if len(inner) == 4 or _words(inner[4:5]) in (["NOT"], ["NO"]):
                    return _unquote_name(inner[0].raw)
            return ""
    return ""


def _tautology(cond: Sequence[Token]) -> bool:
    if not cond:
        return True
    if any(t.kind == "q" for t in cond):
        return False
    words = [t.v for t in cond if t.kind == "w"]
    if all(w in ("TRUE", "AND", "OR", "NOT", "FALSE", "NULL", "IS") for w in words):
        return "FALSE" not in words
    if len(cond) == 3 and cond[1].kind == "p" and cond[1].v == "=" and cond[0].raw.lower() == cond[2].raw.lower():
        return True
    return False


def _strip_control(masked: str, dialect: str, start: int = 0) -> Optional[int]:
    """Offset where the SQL of a procedural piece starts, after IF ... THEN, BEGIN, ELSE, labels...; None if empty."""
    pos = start
    n = len(masked)
    for _attempt in range(50):
        while pos < n and masked[pos].isspace():
            pos += 1
        if pos >= n:
            return None
        rest = masked[pos:]
        m = re.match(r"<<\s*\w+\s*>>|\w+\s*:(?!=)", rest)
        if m:
            pos += m.end()
            continue
        m = re.match(r"(?:END\s+(?:IF|LOOP|WHILE|REPEAT|CASE|FOR)\b|END\b(?:\s+\w+)?\s*$)", rest, re.I)
        if m:
            return None
        m = re.match(r"(BEGIN|ELSE|LOOP|REPEAT|THEN|DO)\b", rest, re.I)
        if m and not (m.group(1).upper() == "BEGIN" and re.match(r"BEGIN\s+(WORK|TRANSACTION)\b", rest, re.I)):
            if m.group(1).upper() == "DO" and dialect == "postgresql":
                return pos
            pos += m.end()
            continue
        m = re.match(r"(IF|ELSIF|ELSEIF|WHEN|CASE|EXCEPTION|UNTIL)\b", rest, re.I)
        if m:
            word = m.group(1).upper()
            if word == "UNTIL":
                return None
            t = _find_top(rest, r"\bTHEN\b", m.end())
            if t is None:
                if word in ("EXCEPTION", "CASE"):
                    pos += m.end()
                    continue
                return None
            pos += t
            continue
        m = re.match(r"(WHILE|FOR)\b", rest, re.I)
        if m:
            t = _find_top(rest, r"\bLOOP\b|\bDO\b", m.end())
            if t is None:
                return None
            pos += t
            continue
        return pos
    return pos


def _find_top(text: str, pattern: str, start: int) -> Optional[int]:
    """End offset of the first match of pattern at parenthesis depth 0 (CASE ... END skipped)."""
    depth = 0
    for m in re.finditer(r"\(|\)|\bCASE\b|\bEND\b|" + pattern, text[start:], re.I):
        tok = m.group(0).upper()
        if tok == "(" or tok == "CASE":
            depth += 1
        elif tok == ")" or tok == "END":
            depth -= 1
        elif depth <= 0:
            return start + m.end()
    return None


def _placeholders(fmt: str) -> str:
    return re.sub(r"%(?:\d+\$)?[ILs]", "_dynamic_", fmt).replace("%%", "%")


def _sql_strings(toks: Sequence[Token], base: int) -> List[Tuple[str, int]]:
    """SQL texts a MySQL expression can evaluate to: CONCAT() joins, IF()/CASE pick one of several literals."""
    lits = [t for t in toks if t.kind == "s"]
    if not lits:
        return []
    words = _words(toks)
    out: List[Tuple[str, int]] = []
    if "CONCAT" in words:
        i = next(i for i, t in enumerate(toks) if t.kind == "w" and t.v == "CONCAT")
        cur = _Cur(list(toks), i + 1)
        args = _split_top(cur.skip_group())
        joined = "".join(a[0].v if len(a) == 1 and a[0].kind == "s" else " _dynamic_ " for a in args)
        first = next((a[0] for a in args if a and a[0].kind == "s"), lits[0])
        out.append((joined, base + first.off))
        return out
    for t in lits:
        if _SQLISH_RE.match(t.v):
            out.append((t.v, base + t.off))
    return out


_EXPR_KEYWORDS = frozenset(
    """AS CASE WHEN THEN ELSE END NULL AND OR NOT IS IN CAST TRUE FALSE LIKE ILIKE DISTINCT BETWEEN COLLATE
    INTERVAL EXISTS SELECT FROM WHERE ESCAPE GLOB REGEXP ANY ALL SOME""".split()
)


def _expr_columns(expr: Sequence[Token]) -> Set[str]:
    """Column names an expression reads (identifiers that are not keywords, functions, types or qualifiers)."""
    out: Set[str] = set()
    toks = list(expr)
    for i, tok in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        prev = toks[i - 1] if i > 0 else None
        if tok.kind not in ("w", "q"):
            continue
        if nxt is not None and nxt.kind == "p" and nxt.v in ("(", "."):
            continue
        if prev is not None and ((prev.kind == "w" and prev.v == "AS") or (prev.kind == "p" and prev.v == "::")):
            continue
        if tok.kind == "w" and (tok.v in _EXPR_KEYWORDS or tok.v == "*"):
            continue
        out.add(_norm(tok.v if tok.kind == "q" else tok.raw))
    return out


def _expr_source(expr: Sequence[Token]) -> Tuple[str, Optional[str]]:
    """What a SELECT-list expression copies: ('col'|'coalesce'|'cast'|'expr', source column or None)."""
    toks = list(expr)
    # strip an alias: expr [AS] alias
    if len(toks) >= 3 and toks[-2].kind == "w" and toks[-2].v == "AS":
        toks = toks[:-2]
    if len(toks) == 1 and toks[0].kind == "p" and toks[0].v == "*":
        return ("col", "*")
    plain = _Cur(toks)
    name = plain.name()
    if name is not None and plain.at_end() and (toks[0].kind == "q" or toks[0].v not in ("NULL", "TRUE", "FALSE")):
        return ("col", name)
    if toks and toks[0].kind == "w" and toks[0].v in ("COALESCE", "IFNULL", "NVL") and len(toks) > 2:
        inner = _Cur(toks, 1).skip_group()
        args = _split_top(inner)
        if args:
            kind, src = _expr_source(args[0])
            if kind == "col":
                return ("coalesce", src)
    if toks and toks[0].kind == "w" and toks[0].v == "CAST" and len(toks) > 2:
        inner = list(_Cur(toks, 1).skip_group())
        idx = next((i for i, t in enumerate(inner) if t.kind == "w" and t.v == "AS"), len(inner))
        kind, src = _expr_source(inner[:idx])
        if kind == "col":
            return ("cast", src)
    return ("expr", None)


_PRISMA_DROP_RE = re.compile(r"You are about to drop the column `([^`]+)` on the `([^`]+)` table")
