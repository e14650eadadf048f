# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the parsing half of migration_check's reader.

The statements of a file as the lexer cuts them (``Piece``), where each sits (``Ctx``), a cursor over a
statement's tokens (``Cursor``), column definitions (``parse_column`` returns a plain ``ColumnDef`` record), types
(``parse_type``, ``type_change_kind``) and the small readers of names and expressions the handlers share. Nothing
here knows the file's state or emits an event: that is ``_sql/reader.py`` (the ``Analyzer``) and its statement
handlers in ``_sql/handlers``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Set, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import ColumnInfo
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.lexer import SplitError, Token, split_statements

# --------------------------------------------------------------------------------------------------------------
# Statements: the lexer's pieces, with the masked text (comments and quoted text blanked, same length)


class Piece:
    __slots__ = ("start", "end", "text", "masked")

    def __init__(self, start: int, end: int, text: str, masked: str) -> None:
        self.start = start
        self.end = end
        self.text = text
        self.masked = masked


def split_pieces(text: str, masked: str, dialect: str) -> List[Piece]:
    """Statements of ``text`` as the one front end cuts them (the statements migration_apply runs)."""
    return split_pieces_checked(text, masked, dialect)[0]


def split_pieces_checked(text: str, masked: str, dialect: str) -> Tuple[List[Piece], Optional[SplitError]]:
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
    return [Piece(st.start, st.end, st.text, masked[st.start : st.end]) for st in statements], error


# --------------------------------------------------------------------------------------------------------------
# Positions


class Ctx:
    """Where a statement sits: file offsets, nesting, and the outermost statement (for waivers)."""

    __slots__ = ("start", "outer_start_line", "outer_end_line", "depth", "label")

    def __init__(self, start: int, outer_start_line: int, outer_end_line: int, depth: int, label: str = "") -> None:
        self.start = start
        self.outer_start_line = outer_start_line
        self.outer_end_line = outer_end_line
        self.depth = depth
        self.label = label


# --------------------------------------------------------------------------------------------------------------
# Tokens


def norm_name(name: str) -> str:
    return name.lower()


class Cursor:
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
        return norm_name(last)

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


def split_top(toks: Sequence[Token], sep: str = ",") -> List[List[Token]]:
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


def top_words(toks: Sequence[Token]) -> List[Tuple[int, str]]:
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
# Statement records


@dataclass
class DropIndexStatement:
    """DROP INDEX [CONCURRENTLY] [IF EXISTS] name[, ...] [ON table] (MySQL names the table, and one index)."""

    names: List[Optional[str]]
    table: Optional[str] = None
    concurrently: bool = False


def parse_drop_index(cur: Cursor) -> DropIndexStatement:
    """The rest of a DROP INDEX, the cursor after INDEX."""
    concurrently = bool(cur.accept("CONCURRENTLY"))
    cur.accept("IF", "EXISTS")
    stmt = DropIndexStatement([first_name(p) for p in split_top(cur.rest())], concurrently=concurrently)
    if "ON" in words_of(cur.rest()):  # mysql / sqlite-less: DROP INDEX i ON t
        on = Cursor(cur.rest())
        on.name()
        on.accept("ON")
        stmt.table = on.name()
        stmt.names = stmt.names[:1]
    return stmt


@dataclass
class InsertSelect:
    """INSERT INTO target [(columns)] SELECT select_list FROM source ...: a copy of one table's rows."""

    target: str
    columns: List[str]
    source: str
    select_list: List[List[Token]]


def parse_insert_select(cur: Cursor) -> Optional[InsertSelect]:
    """An INSERT (the cursor on INSERT or REPLACE) that copies rows from a table, or None for any other INSERT."""
    cur.i += 1
    while cur.accept_any("INTO", "IGNORE", "OR", "REPLACE", "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY"):
        pass
    target = cur.name()
    if target is None:
        return None
    cols: List[str] = []
    if cur.punct() == "(":
        cols = [n for n in (first_name(p) for p in split_top(cur.skip_group())) if n]
    if not cur.accept("SELECT"):
        return None
    cur.accept("DISTINCT")
    start = cur.i
    while not cur.at_end() and cur.word() != "FROM":
        if cur.punct() == "(":
            cur.skip_group()
        else:
            cur.i += 1
    select_list = split_top(cur.t[start : cur.i])
    if not cur.accept("FROM"):
        return None
    source = cur.name()
    if not source:
        return None
    return InsertSelect(target, cols, source, select_list)


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


class ColumnDef:
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


def type_text(toks: Sequence[Token]) -> str:
    out = []
    for tok in toks:
        if tok.kind == "p":
            out.append(tok.v)
        else:
            out.append((" " if out and out[-1] not in ("(", ",") else "") + (tok.v if tok.kind == "w" else tok.raw))
    return "".join(out).strip().lower()


def parse_column(toks: List[Token]) -> Optional[ColumnDef]:
    """A column definition (name, type, then its clauses in any order) as a ColumnDef, or None without a name."""
    cur = Cursor(toks)
    name = cur.name()
    if name is None:
        return None
    col = ColumnDef(name)
    col.type_toks = _read_type(cur)
    col.type = type_text(col.type_toks)
    while not cur.at_end():
        _read_column_clause(cur, col)
    if col.generated and not col.stored and "STORED" in [t.v for t in toks if t.kind == "w"]:
        col.stored = True
    return col


@dataclass
class TableBody:
    """What CREATE TABLE (...) declares: its columns (a single-column PRIMARY KEY constraint marks its column when
    the column comes first) and its table constraints (each one's tokens), in their order."""

    columns: List[ColumnDef] = field(default_factory=list)
    constraints: List[List[Token]] = field(default_factory=list)


_TABLE_CONSTRAINTS = frozenset(
    ("CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "KEY", "INDEX", "EXCLUDE", "FULLTEXT", "SPATIAL", "LIKE")
)


def parse_table_body(toks: Sequence[Token]) -> TableBody:
    body = TableBody()
    for part in split_top(toks):
        first = part[0].v if part[0].kind == "w" else ""
        if first not in _TABLE_CONSTRAINTS:
            col = parse_column(part)
            if col is not None:
                body.columns.append(col)
            continue
        body.constraints.append(part)
        if first == "PRIMARY" or (first == "CONSTRAINT" and "PRIMARY" in words_of(part)):
            names = group_names(part)
            for c in body.columns:
                # a key of several columns makes none of them unique on its own
                if c.name in names and len(names) == 1:
                    c.primary_key = True
    return body


def _read_type(cur: Cursor) -> List[Token]:
    """The type's tokens: words and groups until a constraint keyword (CHARACTER VARYING is a type)."""
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
    return cur.t[start : cur.i]


def _read_column_clause(cur: Cursor, col: ColumnDef) -> None:
    """One clause after the type (NOT NULL, DEFAULT ..., REFERENCES ..., ...); what it is not is skipped."""
    for words, read in _COLUMN_CLAUSES:
        if cur.accept(*words):
            read(cur, col)
            return
    if cur.word() == "AS" and cur.punct(1) == "(":
        cur.i += 1
        col.generated = True
        cur.skip_group()
    elif cur.punct() == "(":
        cur.skip_group()
    else:
        cur.i += 1


def _read_default(cur: Cursor, col: ColumnDef) -> None:
    col.has_default = True
    start = cur.i
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
    col.default_toks = cur.t[start : cur.i]
    if len(col.default_toks) == 1 and col.default_toks[0].v == "NULL":
        col.has_default = False


def _read_generated(cur: Cursor, col: ColumnDef) -> None:
    if cur.accept("ALWAYS") or cur.accept("BY", "DEFAULT"):
        pass
    cur.accept("ON", "NULL")
    if cur.accept("AS", "IDENTITY"):
        col.identity = True
        cur.skip_group()
    elif cur.accept("AS"):
        col.generated = True
        cur.skip_group()


def _read_unique(cur: Cursor, col: ColumnDef) -> None:
    cur.accept_any("KEY", "INDEX")
    col.unique = True


def _read_references(cur: Cursor, col: ColumnDef) -> None:
    col.references = True
    cur.name()
    cur.skip_group()


def _read_check(cur: Cursor, col: ColumnDef) -> None:
    col.check = True
    cur.skip_group()


def _read_identity(cur: Cursor, col: ColumnDef) -> None:
    col.identity = True
    cur.skip_group()


def _read_collate(cur: Cursor, col: ColumnDef) -> None:
    col.collate = True
    cur.name()


def _flag(attribute: str) -> Callable[[Cursor, ColumnDef], None]:
    """A clause whose only meaning is one flag of the column (NOT NULL, PRIMARY KEY, STORED, ...)."""

    def read(_cur: Cursor, col: ColumnDef) -> None:
        setattr(col, attribute, True)

    return read


# the clauses of a column definition, tried in this order: the words that start each, and its reader
_COLUMN_CLAUSES: Tuple[Tuple[Tuple[str, ...], Callable[[Cursor, ColumnDef], None]], ...] = (
    (("NOT", "NULL"), _flag("not_null")),
    (("NULL",), _flag("null")),
    (("DEFAULT",), _read_default),
    (("PRIMARY", "KEY"), _flag("primary_key")),
    (("UNIQUE",), _read_unique),
    (("REFERENCES",), _read_references),
    (("CHECK",), _read_check),
    (("GENERATED",), _read_generated),
    (("STORED",), _flag("stored")),
    (("PERSISTENT",), _flag("stored")),
    (("AUTO_INCREMENT",), _flag("auto_increment")),
    (("AUTOINCREMENT",), _flag("auto_increment")),
    (("IDENTITY",), _read_identity),
    (("COLLATE",), _read_collate),
)


def default_volatility(toks: Sequence[Token]) -> Optional[str]:
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
VARCHAR_NAMES = {"varchar", "character varying", "nvarchar", "national varchar"}


def parse_type(text: str) -> Optional[Tuple[str, Optional[int], Optional[int], bool]]:
    m = _TYPE_RE.match(text.lower().split(" collate ")[0].split(" character set ")[0])
    if not m:
        return None
    return (
        m.group(1).strip(),
        int(m.group(2)) if m.group(2) else None,
        int(m.group(3)) if m.group(3) else None,
        bool(m.group(4)),
    )


def type_change_kind(dialect: str, prior: str, new: str) -> str:
    """'same', 'safe' (binary-coercible widening), 'rewrite' (MySQL copy across the length prefix) or 'change'."""
    a = parse_type(prior)
    b = parse_type(new)
    if a is None or b is None:
        return "change"
    if a == b:
        return "same"
    if a[3] != b[3]:
        return "change"
    old = (_TYPE_ALIASES.get(a[0], a[0]), a[1], a[2])
    to = (_TYPE_ALIASES.get(b[0], b[0]), b[1], b[2])
    if old == to:
        return "same"
    if dialect == "postgresql":
        return _pg_type_change(old, to)
    if dialect == "sqlite":
        # SQLite stores by type affinity and enforces no length: varchar(255) -> varchar(768) changes nothing
        return "same" if sqlite_affinity(prior) == sqlite_affinity(new) else "change"
    if dialect == "mysql":
        return _mysql_type_change(old, to)
    return "change"


_TYPE_ALIASES = {"int": "integer", "int4": "integer", "int8": "bigint", "int2": "smallint", "bool": "boolean"}
# (type name with its aliases resolved, length or precision, scale)
_SizedType = Tuple[str, Optional[int], Optional[int]]


def _pg_type_change(old: _SizedType, to: _SizedType) -> str:
    (an, al, ascale), (bn, bl, bscale) = old, to
    if an in VARCHAR_NAMES and (bn == "text" or (bn in VARCHAR_NAMES and (bl is None or (al and bl >= al)))):
        return "safe"
    if an == "text" and bn in VARCHAR_NAMES and bl is None:
        return "safe"
    if an in ("numeric", "decimal") and bn == an and ascale == bscale and al and (bl is None or bl >= al):
        return "safe"
    return "change"


def _mysql_type_change(old: _SizedType, to: _SizedType) -> str:
    (an, al, _ascale), (bn, bl, _bscale) = old, to
    if an in VARCHAR_NAMES and bn in VARCHAR_NAMES and al and bl and bl >= al:
        # utf8mb4: 4 bytes a character; the length prefix grows from 1 to 2 bytes past 255 bytes.
        return "safe" if (al * 4 > 255) == (bl * 4 > 255) else "rewrite"
    return "change"


def sqlite_affinity(declared: str) -> str:
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
# Small pure helpers


def words_of(toks: Sequence[Token]) -> List[str]:
    return [t.v for t in toks if t.kind == "w"]


def unquote_name(raw: str) -> str:
    last = raw.split(".")[-1]
    return norm_name(last.strip('"`[]'))


def first_name(toks: Sequence[Token]) -> Optional[str]:
    return Cursor(list(toks)).name()


def group_names(toks: Sequence[Token]) -> Set[str]:
    cur = Cursor(list(toks))
    while not cur.at_end() and cur.punct() != "(":
        cur.i += 1
    return {n for n in (first_name(p) for p in split_top(cur.skip_group())) if n}


def inline_index_name(part: Sequence[Token]) -> str:
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
        return unquote_name(toks[i].raw)
    return ""


def ordered_group_names(part: Sequence[Token]) -> List[str]:
    """The names in the first parenthesised group of a constraint, in their order."""
    cur = Cursor(list(part))
    while not cur.at_end() and cur.punct() != "(":
        cur.i += 1
    if cur.at_end():
        return []
    return [n for n in (first_name(p) for p in split_top(cur.skip_group())) if n]


def pg_default_name(table: str, kind: str, columns: Sequence[str]) -> str:
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


def not_null_check_column(part: Sequence[Token]) -> str:
    """The column of a ``CHECK (col IS NOT NULL)`` constraint, or ""."""
    toks = list(part)
    for i, tok in enumerate(toks):
        if tok.kind == "w" and tok.v == "CHECK":
            inner = [t for t in toks[i + 1 :] if not (t.kind == "p" and t.v in ("(", ")"))]
            if len(inner) >= 4 and inner[0].kind in ("w", "q") and words_of(inner[1:4]) == ["IS", "NOT", "NULL"]:
                if len(inner) == 4 or words_of(inner[4:5]) in (["NOT"], ["NO"]):
                    return unquote_name(inner[0].raw)
            return ""
    return ""


def tautology(cond: Sequence[Token]) -> bool:
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


_EXPR_KEYWORDS = frozenset(
    """AS CASE WHEN THEN ELSE END NULL AND OR NOT IS IN CAST TRUE FALSE LIKE ILIKE DISTINCT BETWEEN COLLATE
    INTERVAL EXISTS SELECT FROM WHERE ESCAPE GLOB REGEXP ANY ALL SOME""".split()
)


def expr_columns(expr: Sequence[Token]) -> Set[str]:
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
        out.add(norm_name(tok.v if tok.kind == "q" else tok.raw))
    return out


def expr_source(expr: Sequence[Token]) -> Tuple[str, Optional[str]]:
    """What a SELECT-list expression copies: ('col'|'coalesce'|'cast'|'expr', source column or None)."""
    toks = list(expr)
    # strip an alias: expr [AS] alias
    if len(toks) >= 3 and toks[-2].kind == "w" and toks[-2].v == "AS":
        toks = toks[:-2]
    if len(toks) == 1 and toks[0].kind == "p" and toks[0].v == "*":
        return ("col", "*")
    plain = Cursor(toks)
    name = plain.name()
    if name is not None and plain.at_end() and (toks[0].kind == "q" or toks[0].v not in ("NULL", "TRUE", "FALSE")):
        return ("col", name)
    if toks and toks[0].kind == "w" and len(toks) > 2:
        if toks[0].v in ("COALESCE", "IFNULL", "NVL"):
            return _coalesce_source(toks)
        if toks[0].v == "CAST":
            return _cast_source(toks)
    return ("expr", None)


def _coalesce_source(toks: List[Token]) -> Tuple[str, Optional[str]]:
    args = split_top(Cursor(toks, 1).skip_group())
    if args:
        kind, src = expr_source(args[0])
        if kind == "col":
            return ("coalesce", src)
    return ("expr", None)


def _cast_source(toks: List[Token]) -> Tuple[str, Optional[str]]:
    inner = list(Cursor(toks, 1).skip_group())
    idx = next((i for i, t in enumerate(inner) if t.kind == "w" and t.v == "AS"), len(inner))
    kind, src = expr_source(inner[:idx])
    if kind == "col":
        return ("cast", src)
    return ("expr", None)
