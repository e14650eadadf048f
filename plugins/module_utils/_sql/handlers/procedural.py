# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the reader's handlers of code that runs now (DO blocks, routines
the file calls, PL/pgSQL EXECUTE, MySQL PREPARE and EXECUTE of strings).

A mixin of ``_sql/reader.py``'s ``Analyzer``: it reads the statement with ``_sql/parse.py``, keeps the
file's state in the analyzer and emits its events (``self.emit``); it decides no hazard.
"""

from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils._sql.lexer import MAX_LEX_CHARS, Token, mask, tokenize
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.parse import (
    Ctx,
    Cursor,
    norm_name,
    split_pieces,
    split_top,
    top_words,
    words_of,
)

# how deep bodies inside bodies (a routine's EXECUTE of a string) are read
MAX_BODY_DEPTH = 4
_SQLISH_RE = re.compile(
    r"^\s*(ALTER|DROP|CREATE|RENAME|UPDATE|DELETE|TRUNCATE|INSERT|LOCK|OPTIMIZE|REPLACE|VACUUM|CLUSTER|REINDEX)\b",
    re.IGNORECASE,
)


class ProceduralHandlers:
    # ---- bodies that run now

    def body(self, body: str, offset: int, ctx: Ctx, label: str) -> None:
        if ctx.depth >= MAX_BODY_DEPTH:
            return
        masked, problem = mask(body, self.dialect)
        if problem is not None:
            self.undetermined(ctx, body, "unterminated %s inside this body" % problem[1], True)
            return
        in_declare = False
        for piece in split_pieces(body, masked, self.dialect):
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
            sub = Ctx(file_off, ctx.outer_start_line, ctx.outer_end_line, ctx.depth + 1, label)
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

    def do_block(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        body = next((t for t in cur.rest() if t.kind == "d" or t.kind == "s"), None)
        if body is None and len(text) > MAX_LEX_CHARS:
            m = re.search(r"\$(\w*)\$(.*)\$\1\$", text, re.DOTALL)
            if m:
                body = Token("d", m.group(2), m.group(0), m.start(2))
        if body is None:
            self.unparsed(ctx, text, cur.t, "cannot find the body of this DO block")
            return
        lang = words_of(cur.rest())
        if "LANGUAGE" in lang and lang[lang.index("LANGUAGE") + 1 : lang.index("LANGUAGE") + 2] not in (
            ["PLPGSQL"],
            [],
        ):
            self.unparsed(ctx, text, cur.t, "DO block in a language the checker cannot read")
            return
        self.body(body.v, ctx.start + body.off + (0 if body.kind == "d" else 1), ctx, "inside a DO block")

    def call_or_select(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        """CALL, PERFORM, SELECT: run the routines of this file they call; a MySQL SELECT ... INTO @var sets it."""
        self.calls(cur.t, text, ctx)
        if cur.word() == "SELECT" and self.dialect == "mysql":
            self.select_into_var(cur.t, ctx)

    def calls(self, toks: List[Token], text: str, ctx: Ctx) -> None:
        for i, tok in enumerate(toks):
            if tok.kind != "w":
                continue
            name = norm_name(tok.raw)
            if name in self.routines and name not in self.routines_run:
                nxt = toks[i + 1] if i + 1 < len(toks) else None
                if nxt is None or (nxt.kind == "p" and nxt.v in ("(", ";")):
                    self.routines_run.add(name)
                    body, off = self.routines[name]
                    self.body(body, off, ctx, "in routine %s, called by this file" % name)

    def plpgsql_execute(self, text: str, offset: int, ctx: Ctx) -> None:
        toks = tokenize(text)
        lits = [t for t in toks[1:] if t.kind in ("s", "d")]
        words = words_of(toks[1:])
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

    def string_sql(self, sql: str, offset: int, ctx: Ctx, label: str) -> None:
        if ctx.depth >= MAX_BODY_DEPTH:
            return
        sub = Ctx(offset, ctx.outer_start_line, ctx.outer_end_line, ctx.depth + 1, label)
        masked, problem = mask(sql, self.dialect)
        for piece in split_pieces(sql, masked, self.dialect):
            self.statement(
                piece.text, piece.masked, Ctx(offset, sub.outer_start_line, sub.outer_end_line, sub.depth, label)
            )

    def execute(self, cur: Cursor, text: str, ctx: Ctx) -> None:
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

    def alternatives(self, candidates: List[Tuple[str, int]], ctx: Ctx, label: str) -> None:
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

    def set_stmt(self, cur: Cursor, text: str, ctx: Ctx) -> None:
        toks = cur.t
        words = words_of(toks)
        if self.dialect == "mysql":
            joined = " ".join(words)
            if re.search(r"FOREIGN_KEY_CHECKS\b", joined):
                vals = [t.v for t in toks if t.kind == "n"]
                self.fk_checks_off = bool(vals) and vals[-1] == "0"
            for part in split_top(toks[1:]):
                if part and part[0].kind == "w" and part[0].v.startswith("@") and not part[0].v.startswith("@@"):
                    self.user_vars[part[0].v] = _sql_strings(part[2:], ctx.start)

    def select_into_var(self, toks: List[Token], ctx: Ctx) -> None:
        words = top_words(toks)
        for i, w in words:
            if w == "INTO" and i + 1 < len(toks) and toks[i + 1].kind == "w" and toks[i + 1].v.startswith("@"):
                self.user_vars[toks[i + 1].v] = _sql_strings(toks[1:i], ctx.start)

    def prepare(self, cur: Cursor, text: str, ctx: Ctx) -> None:
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

    def run_var(self, var: str, ctx: Ctx, text: str) -> None:
        self.alternatives(self.user_vars.get(var, []), ctx, "in EXECUTE IMMEDIATE")


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
    words = words_of(toks)
    out: List[Tuple[str, int]] = []
    if "CONCAT" in words:
        i = next(i for i, t in enumerate(toks) if t.kind == "w" and t.v == "CONCAT")
        cur = Cursor(list(toks), i + 1)
        args = split_top(cur.skip_group())
        joined = "".join(a[0].v if len(a) == 1 and a[0].kind == "s" else " _dynamic_ " for a in args)
        first = next((a[0] for a in args if a and a[0].kind == "s"), lits[0])
        out.append((joined, base + first.off))
        return out
    for t in lits:
        if _SQLISH_RE.match(t.v):
            out.append((t.v, base + t.off))
    return out
