# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

r"""Private to the zerodown.deploy collection: split a migration file into statements.

Drivers run one statement per call (sqlite3 and PyMySQL refuse several), and
running statement by statement is what lets a failure name the exact
statement and line. The splitter knows, per dialect, what a terminator inside
a literal is not:

* strings and quoted identifiers (``'...'``, ``"..."``, MySQL backticks and
  backslash escapes, PostgreSQL ``E'...'`` and ``$tag$...$tag$``, SQLite
  ``[...]``), ``--`` / ``#`` / nested ``/* */`` comments;
* MySQL ``DELIMITER`` regions (a client command, never sent to the server);
* bodies that contain ``;`` legitimately: SQLite ``CREATE TRIGGER ... BEGIN
  ... END`` (decided by ``sqlite3.complete_statement``), PostgreSQL
  ``BEGIN ATOMIC ... END``, MySQL ``CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT
  ... BEGIN ... END`` without a ``DELIMITER`` line (the server takes the
  compound statement in one call), goose ``-- +goose StatementBegin/StatementEnd``;
* PostgreSQL ``COPY ... FROM stdin`` data, up to the ``\.`` line, which is
  data and never a statement.

It is the one SQL front end: migration_apply runs the statements it returns
and migration_check judges the same statements, so the two can never cut a
file differently. ``mask`` (comments and quoted text blanked, lengths and
newlines kept) is the checker's view of the same text.

Each statement keeps the 1-based line where its code starts, counted in the
text given, which is the Up section with line numbers preserved, and its
offsets in that text.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any, Dict, List, Optional, Tuple

try:
    from sqlparse import lexer as _sql_lexer
    from sqlparse import tokens as _T

    HAS_SQLPARSE = True
    SQLPARSE_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - reported by migration_check
    HAS_SQLPARSE = False
    SQLPARSE_IMPORT_ERROR = _exc

# statements longer than this are only classified by their head (a huge INSERT is data, not DDL)
MAX_LEX_CHARS = 64 * 1024

_DELIMITER_RE = re.compile(r"[ \t]*DELIMITER[ \t]+(\S+)[ \t]*(?:\r?\n|$)", re.IGNORECASE)
_DOLLAR_RE = re.compile(r"\$([A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$")
_GOOSE_BEGIN_RE = re.compile(r"--\s*\+goose\s+StatementBegin\b", re.IGNORECASE)
_GOOSE_END_RE = re.compile(r"--\s*\+goose\s+StatementEnd\b", re.IGNORECASE)
_WORD_CHARS = re.compile(r"[A-Za-z0-9_$\x80-\uffff]")
_WORD_RUN = re.compile(r"[A-Za-z0-9_$\x80-\uffff]+")
_PLAIN_RUNS: Dict[str, re.Pattern[str]] = {}
_COMPOUND_HEAD_RE = re.compile(
    r"\s*(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?(?:(?:TEMP|TEMPORARY|CONSTRAINT|AGGREGATE)\s+)?"
    r"(?:PROCEDURE|FUNCTION|TRIGGER|EVENT)\b|BEGIN\s+NOT\s+ATOMIC\b)",
    re.IGNORECASE,
)
_BLOCK_WORD_RE = re.compile(r"\b(BEGIN|CASE|END)\b(?:\s+(IF|LOOP|WHILE|REPEAT|FOR)\b)?", re.IGNORECASE)
_COPY_STDIN_RE = re.compile(r"COPY\b[^;]*?\bFROM\s+STDIN\b", re.IGNORECASE)
_COPY_END_RE = re.compile(r"^\\\.[ \t]*\r?$", re.MULTILINE)


class SplitError(Exception):
    """The text cannot be split: an unterminated string, comment or block (``offset``: where it starts)."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


class Statement:
    """One statement: its text (without terminator), the line its code starts on, its offsets in the text."""

    __slots__ = ("text", "line", "start", "end")

    def __init__(self, text: str, line: int, start: int = 0, end: int = -1) -> None:
        self.text = text
        self.line = line
        self.start = start
        self.end = start + len(text) if end < 0 else end

    def first_words(self, count: int = 3) -> List[str]:
        return [w.upper() for w in re.findall(r"[A-Za-z_]+", _strip_comments(self.text))[:count]]

    def summary(self, limit: int = 200) -> str:
        flat = " ".join(self.text.split())
        return flat if len(flat) <= limit else flat[: limit - 3] + "..."

    def __repr__(self) -> str:
        return "Statement(line=%d, %r)" % (self.line, self.summary(60))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Statement) and (self.text, self.line) == (other.text, other.line)


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*(?!!).*?\*/", " ", text, flags=re.DOTALL)
    return re.sub(r"(--|#)[^\n]*", " ", text)


def split_statements(sql: str, dialect: str) -> List[Statement]:
    """The statements of ``sql`` in order; comment-only parts are dropped."""
    return _Splitter(sql, dialect).run()


class _Splitter:
    def __init__(self, sql: str, dialect: str) -> None:
        self.sql = sql
        self.n = len(sql)
        self.dialect = dialect
        self.delimiter = ";"
        self.out = []  # type: List[Statement]
        self.start = 0  # where the current statement's text begins
        self.code_start = -1  # first code character of the current statement
        self.goose_block = False
        self.goose_begin = 0
        self.atomic_depth = 0  # PostgreSQL BEGIN ATOMIC ... END nesting
        self.prev_word = ""
        self._masked: Optional[str] = None
        self._line_at = (0, 1)

    def line_of(self, offset: int) -> int:
        # statements come in order: count only the newlines since the last question (linear on huge files)
        if offset < self._line_at[0]:
            self._line_at = (0, 1)
        at, line = self._line_at
        line += self.sql.count("\n", at, offset)
        self._line_at = (offset, line)
        return line

    def plain_run(self) -> re.Pattern[str]:
        """Characters that can neither start a comment, quote, word nor the delimiter: skipped in one step."""
        if self.delimiter not in _PLAIN_RUNS:
            _PLAIN_RUNS[self.delimiter] = re.compile(
                r"[^-#/'\"`\[$A-Za-z0-9_\x80-\uffff%s]+" % re.escape(self.delimiter[0])
            )
        return _PLAIN_RUNS[self.delimiter]

    def mark_code(self, offset: int) -> None:
        if self.code_start < 0:
            self.code_start = offset

    def emit(self, end: int) -> None:
        if self.code_start >= 0:
            text = self.sql[self.code_start : end].rstrip()
            if text:
                self.out.append(Statement(text, self.line_of(self.code_start), self.code_start))
        self.code_start = -1
        self.atomic_depth = 0
        self.prev_word = ""

    def at_line_start(self, i: int) -> bool:
        j = i - 1
        while j >= 0 and self.sql[j] in " \t":
            j -= 1
        return j < 0 or self.sql[j] == "\n"

    def run(self) -> List[Statement]:
        # The character-level state machine, kept as one function on purpose (radon grades it F; issue 26 lets it
        # be): each branch consumes one lexical state (DELIMITER command, comment, quoted text, dollar body,
        # terminator, word, plain run) and the order of the tests is the grammar's precedence (a "--" is a comment
        # before it is a delimiter, a quote opens text before a word starts). Split into methods, that order would
        # be spread over a table of readers, and every token of every file would pay a call per state tried.
        sql, n, mysql, pg = self.sql, self.n, self.dialect == "mysql", self.dialect == "postgresql"
        i = 0
        while i < n:
            c = sql[i]
            if mysql and self.code_start < 0 and self.at_line_start(i):
                match = _DELIMITER_RE.match(sql, i)
                if match:
                    self.delimiter = match.group(1)
                    i = match.end()
                    self.start = i
                    continue
            if c == "-" and sql.startswith("--", i) and (not mysql or i + 2 >= n or sql[i + 2] in " \t\r\n"):
                end = sql.find("\n", i)
                end = n if end < 0 else end
                comment = sql[i:end]
                if _GOOSE_BEGIN_RE.match(comment):
                    self.emit(i)
                    self.goose_block = True
                    self.goose_begin = i
                elif _GOOSE_END_RE.match(comment) and self.goose_block:
                    self.goose_block = False
                    self.emit(self._strip_terminator(i))
                i = end
                continue
            if c == "#" and mysql:
                end = sql.find("\n", i)
                i = n if end < 0 else end
                continue
            if c == "/" and sql.startswith("/*", i):
                end = self._comment_end(i)
                if mysql and sql.startswith(("/*!", "/*+"), i):
                    self.mark_code(i)  # executable comment: code for the server
                i = end
                continue
            if c in "'\"`" or (c == "[" and self.dialect == "sqlite"):
                self.mark_code(i)
                i = self._quoted_end(i)
                continue
            if pg and c == "$":
                match = _DOLLAR_RE.match(sql, i)
                if match and not (i > 0 and _WORD_CHARS.match(sql[i - 1])):
                    close = sql.find(match.group(0), match.end())
                    if close < 0:
                        raise SplitError(
                            "line %d: dollar-quoted string %s is never closed" % (self.line_of(i), match.group(0)), i
                        )
                    self.mark_code(i)
                    i = close + len(match.group(0))
                    continue
            if not self.goose_block and sql.startswith(self.delimiter, i) and self.atomic_depth == 0:
                end = i + len(self.delimiter)
                if (self.dialect != "sqlite" or sqlite3.complete_statement(sql[self.start : end])) and not (
                    mysql and self.inside_compound(i)
                ):
                    count = len(self.out)
                    self.emit(i)
                    i = end
                    if pg and len(self.out) > count and _COPY_STDIN_RE.match(self.out[-1].text):
                        i = self._copy_data_end(i)
                    self.start = i
                    continue
            if _WORD_CHARS.match(c) and not (c == "$" and pg):
                if _WORD_CHARS.match(self.delimiter[0]):
                    j = i
                    while j < n and _WORD_CHARS.match(sql[j]) and (j == i or not sql.startswith(self.delimiter, j)):
                        j += 1
                else:
                    j = _WORD_RUN.match(sql, i).end()
                if pg and c in "eE" and j == i + 1 and j < n and sql[j] == "'":
                    self.mark_code(i)
                    i = self._quoted_end(j, backslash=True)
                    continue
                self.mark_code(i)
                if pg:
                    self._track_atomic(sql[i:j].upper())
                i = j
                continue
            run = self.plain_run().match(sql, i)
            if run is None:
                if not c.isspace():
                    self.mark_code(i)
                i += 1
                continue
            if self.code_start < 0 and not run.group(0).isspace():
                self.mark_code(i + len(run.group(0)) - len(run.group(0).lstrip()))
            i = run.end()
        if self.goose_block:
            raise SplitError("-- +goose StatementBegin without a matching -- +goose StatementEnd", self.goose_begin)
        self.emit(n)
        return self.out

    def inside_compound(self, i: int) -> bool:
        """A MySQL compound statement (procedure, trigger, ... with BEGIN ... END) whose END is not reached yet."""
        if self.delimiter != ";" or self.code_start < 0:
            return False
        if not _COMPOUND_HEAD_RE.match(self.sql, self.code_start):
            return False
        if self._masked is None:
            self._masked = mask(self.sql, self.dialect)[0]
        return block_balance(self._masked[self.code_start : i]) > 0

    def _copy_data_end(self, i: int) -> int:
        """COPY ... FROM stdin: the data lines up to ``\\.`` belong to the COPY statement, never split as SQL."""
        match = _COPY_END_RE.search(self.sql, i)
        end = match.end() if match else self.n
        last = self.out[-1]
        last.text = self.sql[last.start : end].rstrip()
        last.end = last.start + len(last.text)
        return end

    def _strip_terminator(self, end: int) -> int:
        """End offset of a goose block's statement, without its trailing terminator."""
        text = self.sql[:end].rstrip()
        return len(text) - 1 if text.endswith(";") else len(text)

    def _track_atomic(self, word: str) -> None:
        if word == "ATOMIC" and self.prev_word == "BEGIN":
            self.atomic_depth += 1
        elif self.atomic_depth and word == "CASE":
            self.atomic_depth += 1
        elif self.atomic_depth and word == "END":
            self.atomic_depth -= 1
        self.prev_word = word

    def _comment_end(self, i: int) -> int:
        sql = self.sql
        if self.dialect == "postgresql":
            depth, j = 0, i
            while j < self.n:
                if sql.startswith("/*", j):
                    depth += 1
                    j += 2
                elif sql.startswith("*/", j):
                    depth -= 1
                    j += 2
                    if depth == 0:
                        return j
                else:
                    j += 1
        else:
            end = sql.find("*/", i + 2)
            if end >= 0:
                return end + 2
        raise SplitError("line %d: /* comment is never closed" % self.line_of(i), i)

    def _quoted_end(self, i: int, backslash: bool = False) -> int:
        sql = self.sql
        quote = "]" if sql[i] == "[" else sql[i]
        if self.dialect == "mysql" and quote in "'\"":
            backslash = True
        j = i + 1
        while j < self.n:
            ch = sql[j]
            if backslash and ch == "\\":
                j += 2
                continue
            if ch == quote:
                if quote != "]" and j + 1 < self.n and sql[j + 1] == quote:
                    j += 2
                    continue
                return j + 1
            j += 1
        raise SplitError("line %d: %s quoted text is never closed" % (self.line_of(i), sql[i]), i)


# --------------------------------------------------------------------------------------------------------------
# The checker's view: the same text with comments and quoted contents blanked (same length, newlines kept)

_SCANNERS: Dict[str, re.Pattern[str]] = {}
_NOT_NEWLINE = re.compile(r"[^\n]")


def _scanner(dialect: str) -> re.Pattern[str]:
    if dialect not in _SCANNERS:
        parts = [r"(?P<comment>--[^\n]*|/\*.*?\*/)"]
        if dialect == "mysql":
            parts[0] = r"(?P<comment>--(?=[ \t\r\n]|$)[^\n]*|#[^\n]*|/\*.*?\*/)"
            parts.append(r"(?P<string>'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\")")
            parts.append(r"(?P<ident>`(?:[^`]|``)*`)")
            opener = r"/\*|'|\"|`"
        else:
            if dialect == "postgresql":
                parts.append(r"(?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*|)\$.*?\$(?P=tag)\$)")
                parts.append(r"(?P<estring>(?<![A-Za-z0-9_])[Ee]'(?:[^'\\]|\\.|'')*')")
                opener = r"/\*|'|\"|\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$"
            else:
                parts.append(r"(?P<ident2>`(?:[^`]|``)*`|\[[^\]\n]*\])")
                opener = r"/\*|'|\"|`"
            parts.append(r"(?P<string>'(?:[^']|'')*')")
            parts.append(r"(?P<ident>\"(?:[^\"]|\"\")*\")")
        parts.append(r"(?P<open>" + opener + ")")
        _SCANNERS[dialect] = re.compile("|".join(parts), re.DOTALL)
    return _SCANNERS[dialect]


def mask(text: str, dialect: str) -> Tuple[str, Optional[Tuple[int, str]]]:
    """Text with comments blanked and quoted contents blanked; plus (offset, what) of an unterminated quote."""
    out = []
    pos = 0
    scanner = _scanner(dialect)
    problem = None
    while True:
        m = scanner.search(text, pos)
        if not m:
            out.append(text[pos:])
            break
        out.append(text[pos : m.start()])
        kind = m.lastgroup if m.lastgroup != "tag" else "dollar"
        if m.group("open") is not None:
            what = {
                "/*": "comment",
                "'": "string",
                '"': "quoted identifier" if dialect != "mysql" else "string",
                "`": "quoted identifier",
            }.get(m.group("open"), "dollar-quoted body")
            problem = (m.start(), what)
            out.append(_NOT_NEWLINE.sub(" ", text[m.start() :]))
            break
        seg = m.group(0)
        if kind == "comment" and dialect == "postgresql" and seg.startswith("/*") and "/*" in seg[2:]:
            end = _nested_comment_end(text, m.start())
            if end < 0:
                problem = (m.start(), "comment")
                out.append(_NOT_NEWLINE.sub(" ", text[m.start() :]))
                break
            out.append(_NOT_NEWLINE.sub(" ", text[m.start() : end]))
            pos = end
            continue
        if kind == "comment":
            out.append(_NOT_NEWLINE.sub(" ", seg))
        elif kind in ("ident", "ident2"):
            out.append(seg.replace(";", " "))
        elif kind == "dollar":
            tag = "$" + (m.group("tag") or "") + "$"
            out.append(tag + _NOT_NEWLINE.sub(" ", seg[len(tag) : -len(tag)]) + tag)
        else:
            head = 2 if kind == "estring" else 1
            out.append(seg[:head] + _NOT_NEWLINE.sub(" ", seg[head:-1]) + seg[-1])
        pos = m.end()
    return "".join(out), problem


def _nested_comment_end(text: str, start: int) -> int:
    """End offset of a PostgreSQL block comment, which may nest; -1 when it never closes."""
    depth = 0
    for m in re.finditer(r"/\*|\*/", text[start:]):
        depth += 1 if m.group(0) == "/*" else -1
        if depth == 0:
            return start + m.end()
    return -1


def block_balance(masked: str) -> int:
    depth = 0
    for m in _BLOCK_WORD_RE.finditer(masked):
        word = m.group(1).upper()
        if word in ("BEGIN", "CASE"):
            depth += 1
        elif not m.group(2):
            depth -= 1
    return depth


# --------------------------------------------------------------------------------------------------------------
# Tokens, for the checker's reader: sqlparse's lexer, folded into words, quoted names, strings, numbers, punctuation


class Token:
    __slots__ = ("kind", "v", "raw", "off")

    # kind: w (word, v upper-cased), q (quoted identifier, v inner text), s (string, v unescaped),
    #       d (dollar-quoted body, v body), n (number / placeholder), p (punctuation / operator)
    def __init__(self, kind: str, v: str, raw: str, off: int) -> None:
        self.kind = kind
        self.v = v
        self.raw = raw
        self.off = off

    def __repr__(self) -> str:
        return "%s:%s" % (self.kind, self.v)


_WS_RE = re.compile(r"\s+")


def tokenize(text: str) -> List[Token]:
    toks: List[Token] = []
    off = 0
    for ttype, value in _sql_lexer.tokenize(text[:MAX_LEX_CHARS]):
        here = off
        off += len(value)
        if ttype in _T.Whitespace or ttype in _T.Newline or ttype in _T.Comment or ttype is _T.Text:
            continue
        _fold(toks, ttype, value, here)
    return toks


def _fold(toks: List[Token], ttype: Any, value: str, here: int) -> None:
    """Append the token (or words) one sqlparse token at offset ``here`` makes."""
    if ttype in _T.String.Single or (ttype in _T.Literal and value[:1] in ("'",)):
        inner = value[1:-1].replace("''", "'").replace("\\'", "'")
        if toks and toks[-1].kind == "w" and toks[-1].v in ("E", "N", "B", "X", "U&") and toks[-1].off + 1 == here:
            toks.pop()
        toks.append(Token("s", inner, value, here))
    elif value[:1] == "$" and ttype in _T.Literal and len(value) > 1 and not value[1:2].isdigit():
        tag_end = value.index("$", 1) + 1
        toks.append(Token("d", value[tag_end:-tag_end], value, here + tag_end))
    elif value[:1] in ('"', "`", "["):
        toks.append(Token("q", value[1:-1].replace('""', '"').replace("``", "`"), value, here))
    elif ttype in _T.Number or ttype in _T.Name.Placeholder:
        toks.append(Token("n", value, value, here))
    elif ttype in _T.Punctuation or ttype in _T.Operator or ttype in _T.Assignment or ttype is _T.Error:
        toks.append(Token("p", value, value, here))
    else:
        _fold_words(toks, value, here)


def _fold_words(toks: List[Token], value: str, here: int) -> None:
    """Words (upper-cased in ``v``); @name and @@name are one word (MySQL variables)."""
    words = _WS_RE.split(value.strip())
    if len(words) == 1:
        prev = toks[-1] if toks else None
        if prev is not None and prev.kind == "p" and prev.v in ("@", "@@") and prev.off + len(prev.v) == here:
            toks[-1] = Token("w", prev.v + value.upper(), prev.v + value, prev.off)
        else:
            toks.append(Token("w", value.upper(), value, here))
    else:
        for w in words:
            toks.append(Token("w", w.upper(), w, here))
