# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: split a migration file into statements.

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
  ``BEGIN ATOMIC ... END``, goose ``-- +goose StatementBegin/StatementEnd``.

Each statement keeps the 1-based line where its code starts, counted in the
text given, which is the Up section with line numbers preserved.
"""

from __future__ import annotations

import re
import sqlite3
from typing import List

_DELIMITER_RE = re.compile(r"[ \t]*DELIMITER[ \t]+(\S+)[ \t]*(?:\r?\n|$)", re.IGNORECASE)
_DOLLAR_RE = re.compile(r"\$([A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$")
_GOOSE_BEGIN_RE = re.compile(r"--\s*\+goose\s+StatementBegin\b", re.IGNORECASE)
_GOOSE_END_RE = re.compile(r"--\s*\+goose\s+StatementEnd\b", re.IGNORECASE)
_WORD_CHARS = re.compile(r"[A-Za-z0-9_$\x80-\uffff]")


class SplitError(Exception):
    """The text cannot be split: an unterminated string, comment or block."""


class Statement:
    """One statement: its text (without terminator) and the line its code starts on."""

    __slots__ = ("text", "line")

    def __init__(self, text: str, line: int) -> None:
        self.text = text
        self.line = line

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
        self.atomic_depth = 0  # PostgreSQL BEGIN ATOMIC ... END nesting
        self.prev_word = ""

    def line_of(self, offset: int) -> int:
        return self.sql.count("\n", 0, offset) + 1

    def mark_code(self, offset: int) -> None:
        if self.code_start < 0:
            self.code_start = offset

    def emit(self, end: int) -> None:
        if self.code_start >= 0:
            text = self.sql[self.code_start : end].rstrip()
            if text:
                self.out.append(Statement(text, self.line_of(self.code_start)))
        self.code_start = -1
        self.atomic_depth = 0
        self.prev_word = ""

    def at_line_start(self, i: int) -> bool:
        j = i - 1
        while j >= 0 and self.sql[j] in " \t":
            j -= 1
        return j < 0 or self.sql[j] == "\n"

    def run(self) -> List[Statement]:
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
                            "line %d: dollar-quoted string %s is never closed" % (self.line_of(i), match.group(0))
                        )
                    self.mark_code(i)
                    i = close + len(match.group(0))
                    continue
            if not self.goose_block and sql.startswith(self.delimiter, i) and self.atomic_depth == 0:
                end = i + len(self.delimiter)
                if self.dialect != "sqlite" or sqlite3.complete_statement(sql[self.start : end]):
                    self.emit(i)
                    i = end
                    self.start = i
                    continue
            if _WORD_CHARS.match(c) and not (c == "$" and pg):
                j = i
                while j < n and _WORD_CHARS.match(sql[j]) and (j == i or not sql.startswith(self.delimiter, j)):
                    j += 1
                if pg and c in "eE" and j == i + 1 and j < n and sql[j] == "'":
                    self.mark_code(i)
                    i = self._quoted_end(j, backslash=True)
                    continue
                self.mark_code(i)
                if pg:
                    self._track_atomic(sql[i:j].upper())
                i = j
                continue
            if not c.isspace():
                self.mark_code(i)
            i += 1
        if self.goose_block:
            raise SplitError("-- +goose StatementBegin without a matching -- +goose StatementEnd")
        self.emit(n)
        return self.out

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
        raise SplitError("line %d: /* comment is never closed" % self.line_of(i))

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
        raise SplitError("line %d: %s quoted text is never closed" % (self.line_of(i), sql[i]))
