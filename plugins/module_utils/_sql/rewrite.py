# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the safe form of a blocked statement, as SQL ready to save.

A finding whose rule has a known safe form gets ``finding.rewrite``::

    {"sql": "<what replaces the statement in its own file, '' when it all moves>",
     "files": [{"name": "<suggested file name>", "runs": "no_transaction" | "contract", "sql": "<the file>"}],
     "note": "<what the rewrite does, and what the new release must do meanwhile>"}

and a file with at least one such finding gets ``report.rewrite``, the whole migration rewritten: the file itself
with every rewritten statement replaced (``<stem>.safe.sql``), the statements that must run outside a transaction
(``<stem>.no-tx.safe.sql``, with the ``-- zerodown:no-transaction`` marker) and those held for contract.yml
(``<stem>.contract.safe.sql``, with ``-- zerodown:contract``), in the order they must run. Every suggested name ends
in ``.safe.sql``, which migration discovery skips (``_migrations.REWRITE_SUFFIX``): a rewrite written next to the
migrations is never applied until someone renames it into place.

Why one module beside the rules rather than a ``rewrite()`` in each rule file: the rewrites share their SQL
building (names, quoting, the no-transaction and contract files, the batched backfill) and several rules share one
rewrite (a FOREIGN KEY without NOT VALID is both ``add_constraint_validating`` and ``add_foreign_key_blocking``);
the rules keep deciding, this module only says what the safe statement is. ``REWRITES`` maps each rule with a
safe form to its builder; ``NO_REWRITE`` names every other rule and why it has none (docs/modules/migration_check.md
lists both, a unit test keeps them complete).

The builders read the facts of the finding's event and cut the statement with the tokens of ``_sql/lexer.py`` and
the column reader of ``_sql/parse.py``; a statement they cannot rewrite exactly (several ALTER TABLE actions, a
statement inside a routine, a column with constraints beside its default) gets no rewrite rather than a guess.
"""

from __future__ import annotations

import os
import re
from typing import Callable, Dict, List, Optional, Sequence

from ansible_collections.zerodown.deploy.plugins.module_utils._migrations import REWRITE_SUFFIX
from ansible_collections.zerodown.deploy.plugins.module_utils._sql import events as ev
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding, Report
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.lexer import Token, tokenize
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.parse import parse_column, split_top

NO_TX_MARKER = "-- zerodown:no-transaction"
CONTRACT_MARKER = "-- zerodown:contract"
#: rows per batch of a backfill
BATCH_ROWS = 1000

RUNS_NO_TX = "no_transaction"
RUNS_CONTRACT = "contract"


class _Safe:
    """The safe form of one statement: what stays in its file, what runs outside a transaction, what waits."""

    __slots__ = ("in_place", "no_tx", "contract", "note")

    def __init__(
        self, note: str, in_place: Sequence[str] = (), no_tx: Sequence[str] = (), contract: Sequence[str] = ()
    ) -> None:
        self.note = note
        self.in_place = list(in_place)
        self.no_tx = list(no_tx)
        self.contract = list(contract)


class _Stmt:
    """The statement of a finding, as written in the file, with its tokens (offsets into ``text``)."""

    def __init__(self, text: str, dialect: str) -> None:
        self.text = text
        self.dialect = dialect
        self.toks = tokenize(text)

    def words(self, start: int = 0) -> List[str]:
        return [t.v if t.kind == "w" else "" for t in self.toks[start:]]

    def cut(self, first: int, last: Optional[int] = None) -> str:
        """The text from token ``first`` to token ``last`` (excluded; the end of the statement when None)."""
        if first >= len(self.toks):
            return ""
        if last is None or last >= len(self.toks):
            # the end of the last token, not of a comment after it (a ';' added there would be commented out); the
            # words of a keyword sqlparse reads as one ("NOT NULL") share its offset, so the last is looked for
            final = self.toks[-1]
            end = self.text.find(final.raw, final.off) + len(final.raw)
        else:
            end = self.toks[last].off
        return self.text[self.toks[first].off : end].strip()

    def index(self, word: str, start: int = 0) -> int:
        for i in range(start, len(self.toks)):
            if self.toks[i].kind == "w" and self.toks[i].v == word:
                return i
        return -1

    def alter_table(self) -> Optional[tuple]:
        """(table text, index of the first action token) of a one-action ``ALTER TABLE``, else None."""
        if self.words()[:2] != ["ALTER", "TABLE"]:
            return None
        i = 2
        if self.words(i)[:2] == ["IF", "EXISTS"]:
            i += 2
        if self.words(i)[:1] == ["ONLY"]:
            i += 1
        start = i
        i = _name_end(self.toks, i)
        if i == start or len(split_top(self.toks[i:])) != 1:
            return None  # no name, or several actions: not rewritten
        return self.cut(start, i), i


def _name_end(toks: Sequence[Token], i: int) -> int:
    """The index after a possibly qualified name starting at ``i``."""
    if i >= len(toks) or toks[i].kind not in ("w", "q"):
        return i
    i += 1
    while i + 1 < len(toks) and toks[i].kind == "p" and toks[i].v == "." and toks[i + 1].kind in ("w", "q"):
        i += 2
    return i


def _ident(name: str, dialect: str) -> str:
    """A generated name, quoted when it is not a plain lower-case identifier."""
    if re.match(r"^[a-z_][a-z0-9_]*$", name):
        return name
    q = "`" if dialect == "mysql" else '"'
    return q + name.replace(q, q + q) + q


def _last_part(table: str) -> str:
    """``s.t`` -> ``t``, unquoted (what PostgreSQL builds a default constraint name from)."""
    toks = tokenize(table)
    last = toks[-1] if toks else None
    if last is None:
        return table
    return last.v if last.kind == "q" else last.raw.lower()


# ---- the builders, one per statement shape


def _create_index_concurrently(event: ev.CreateIndex, st: _Stmt) -> Optional[_Safe]:
    if event.concurrently:
        return None
    words = st.words()
    if event.reindex:
        # REINDEX [ ( options ) ] { INDEX | TABLE | SCHEMA | DATABASE | SYSTEM } name  (CONCURRENTLY: PostgreSQL 12+)
        kind = next((i for i, w in enumerate(words) if w in ("INDEX", "TABLE", "SCHEMA", "DATABASE")), -1)
        if words[:1] != ["REINDEX"] or kind < 0:
            return None
        insert = kind + 1
    else:
        kind = st.index("INDEX")
        if words[:1] != ["CREATE"] or kind < 0 or kind > 2:
            return None
        insert = kind + 1
    safe = st.cut(0, insert) + " CONCURRENTLY " + st.cut(insert)
    return _Safe(
        "builds the index with CONCURRENTLY, which PostgreSQL refuses inside a transaction: it moves to a file of "
        "its own that runs without one (%s); if the build fails it leaves an INVALID index to drop before a retry"
        % NO_TX_MARKER,
        no_tx=[safe],
    )


def _drop_index_concurrently(event: ev.DropIndex, st: _Stmt) -> Optional[_Safe]:
    words = st.words()
    if event.concurrently or event.statement_kind != "drop_index" or len(event.names) != 1:
        return None
    if words[:2] != ["DROP", "INDEX"] or "CASCADE" in words:
        return None  # DROP INDEX CONCURRENTLY takes one index and no CASCADE
    return _Safe(
        "drops the index with CONCURRENTLY (no lock against reads and writes), in a file without a transaction",
        no_tx=[st.cut(0, 2) + " CONCURRENTLY " + st.cut(2)],
    )


def _not_valid_then_validate(event: ev.Event, st: _Stmt) -> Optional[_Safe]:
    if isinstance(event, ev.AddColumn) and (event.references or event.check):
        return _inline_constraint_later(event, st)
    if isinstance(event, ev.ValidateConstraint):
        return _Safe(
            "validates in a transaction of its own, after the ADD ... NOT VALID has committed: the scan then takes "
            "only SHARE UPDATE EXCLUSIVE, which lets reads and writes go on",
            no_tx=[st.cut(0)],
        )
    if not isinstance(event, ev.AddConstraint) or event.kind not in ("check", "fk") or event.not_valid:
        return None
    head = st.alter_table()
    if head is None or st.words(head[1])[:1] != ["ADD"]:
        return None
    table, i = head
    i += 1
    if st.words(i)[:1] == ["CONSTRAINT"]:
        name_tok = st.toks[i + 1]
        name = name_tok.raw
        body = st.cut(i + 2)
    else:
        name = _ident(_default_constraint_name(st, i, table, event.kind), st.dialect)
        body = st.cut(i)
    what = "CHECK" if event.kind == "check" else "FOREIGN KEY"
    return _Safe(
        "adds the %s with NOT VALID (enforced for new writes at once, no scan under the lock), then validates the "
        "existing rows in a separate transaction, which locks nothing the old version needs" % what,
        no_tx=[
            "ALTER TABLE %s ADD CONSTRAINT %s %s NOT VALID" % (table, name, body),
            "ALTER TABLE %s VALIDATE CONSTRAINT %s" % (table, name),
        ],
    )


def _added_column(st: _Stmt) -> Optional[tuple]:
    """(table, index of the column definition's first token) of ``ALTER TABLE t ADD [COLUMN] c ...``, or None; None
    too for ``ADD COLUMN IF NOT EXISTS``: the column may exist already, and a rewrite would change it (a backfill
    would overwrite its values)."""
    head = st.alter_table()
    if head is None or st.words(head[1])[:1] != ["ADD"]:
        return None
    table, i = head
    i += 1 + (st.words(i + 1)[:1] == ["COLUMN"])
    if st.words(i)[:3] == ["IF", "NOT", "EXISTS"]:
        return None
    return table, i


def _inline_constraint_later(event: ev.AddColumn, st: _Stmt) -> Optional[_Safe]:
    """``ADD COLUMN c type ... REFERENCES p (id)`` / ``CHECK (...)``: the column first, then the constraint NOT VALID
    and validated, as ``_not_valid_then_validate`` does. Only when the constraint ends the column definition."""
    kind = "fk" if event.references else "check"
    if event.via_rebuild or st.dialect != "postgresql" or (event.references and event.check):
        return None
    added = _added_column(st)
    if added is None:
        return None
    table, i = added
    word = "REFERENCES" if kind == "fk" else "CHECK"
    top = [k for k, w in _top_level_words(st.toks, i) if w == word]
    if len(top) != 1:
        return None
    start = top[0]
    if not _ends_the_definition(st.toks[start:], kind):
        return None
    named = st.words(start - 2)[:1] == ["CONSTRAINT"]
    column = st.cut(i, i + 1)
    col_name = st.toks[i].v if st.toks[i].kind == "q" else st.toks[i].raw.lower()
    suffix = "fkey" if kind == "fk" else "check"
    name = st.toks[start - 1].raw if named else _ident("%s_%s_%s" % (_last_part(table), col_name, suffix), st.dialect)
    definition = st.cut(i, start - 2 if named else start)
    clause = st.cut(start)
    if kind == "fk":
        constraint = "FOREIGN KEY (%s) %s" % (column, clause)
    else:
        constraint = clause
    return _Safe(
        "adds the column without its inline %s, then adds the constraint NOT VALID (enforced for new writes at once) "
        "and validates the existing rows in a separate transaction, which locks nothing the old version needs"
        % ("REFERENCES" if kind == "fk" else "CHECK"),
        no_tx=[
            "ALTER TABLE %s ADD COLUMN %s" % (table, definition),
            "ALTER TABLE %s ADD CONSTRAINT %s %s NOT VALID" % (table, name, constraint),
            "ALTER TABLE %s VALIDATE CONSTRAINT %s" % (table, name),
        ],
    )


def _top_level_words(toks: Sequence[Token], start: int) -> List[tuple]:
    """(index, word) of the words at parenthesis depth 0 from ``start``."""
    out = []
    depth = 0
    for k in range(start, len(toks)):
        tok = toks[k]
        if tok.kind == "p" and tok.v in ("(", ")"):
            depth += 1 if tok.v == "(" else -1
        elif tok.kind == "w" and depth == 0:
            out.append((k, tok.v))
    return out


#: what may follow REFERENCES <table> (<columns>) in a column's foreign key, and nothing else
_FK_TAIL = frozenset(
    """MATCH FULL PARTIAL SIMPLE ON DELETE UPDATE CASCADE RESTRICT NO ACTION SET NULL DEFAULT DEFERRABLE NOT
    INITIALLY DEFERRED IMMEDIATE""".split()
)


def _ends_the_definition(clause: Sequence[Token], kind: str) -> bool:
    """The inline constraint (from its REFERENCES or CHECK) runs to the end of the column definition."""
    words = _top_level_words(clause, 0)
    if kind == "check":
        return len(words) == 1 and len(clause) > 1 and clause[1].v == "(" and clause[-1].v == ")"
    tail = [w for k, w in words[2:]] if len(words) > 1 and words[1][0] == 1 else [w for k, w in words[1:]]
    if any(w not in _FK_TAIL for w in tail):
        return False
    pairs = list(zip(tail, tail[1:]))
    return ("NOT", "NULL") not in pairs and tail[:1] not in (["NULL"], ["DEFAULT"])


def _default_constraint_name(st: _Stmt, i: int, table: str, kind: str) -> str:
    """PostgreSQL's name for an unnamed constraint: ``<table>_<columns>_fkey``, ``<table>_<column>_check``."""
    rel = _last_part(table)
    if kind == "fk":
        group = st.index("KEY", i)
        cols = _group_names(st.toks[group + 1 :]) if group >= 0 else []
        return "%s_%s_fkey" % (rel, "_".join(cols)) if cols else rel + "_fkey"
    first = next((t for t in st.toks[i + 1 :] if t.kind in ("w", "q") and t.v not in _SQL_WORDS), None)
    if first is None:
        return rel + "_check"
    return "%s_%s_check" % (rel, first.v if first.kind == "q" else first.raw.lower())


_SQL_WORDS = frozenset(("CHECK", "NOT", "NULL", "IS", "AND", "OR", "IN", "BETWEEN", "LIKE", "TRUE", "FALSE"))


def _group_names(toks: Sequence[Token]) -> List[str]:
    """The names of the parenthesised list at the start of ``toks``."""
    if not toks or toks[0].v != "(":
        return []
    out = []
    for tok in toks[1:]:
        if tok.kind == "p" and tok.v == ")":
            break
        if tok.kind in ("w", "q"):
            out.append(tok.v if tok.kind == "q" else tok.raw.lower())
    return out


def _set_not_null_checked(event: ev.SetNotNull, st: _Stmt) -> Optional[_Safe]:
    if event.via != "alter" or st.dialect != "postgresql":
        return None
    head = st.alter_table()
    if head is None:
        return None
    table, i = head
    # ALTER [COLUMN] col SET NOT NULL
    j = i + 1 + (st.words(i + 1)[:1] == ["COLUMN"])
    if st.words(i)[:1] != ["ALTER"] or st.words(j + 1)[:3] != ["SET", "NOT", "NULL"]:
        return None
    column = st.cut(j, j + 1)
    return _Safe(
        "PostgreSQL 12+: a CHECK (col IS NOT NULL) added NOT VALID and validated in its own transaction lets SET NOT "
        "NULL skip its scan under the ACCESS EXCLUSIVE lock; the check is dropped afterwards. Old-version writes of "
        "NULL still fail once it is added: release code that always writes the column first",
        no_tx=_not_null_steps(table, column, event.column, st.dialect),
    )


def _not_null_steps(table: str, column: str, column_name: str, dialect: str) -> List[str]:
    check = _ident("%s_%s_not_null" % (_last_part(table), column_name), dialect)
    return [
        "ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID" % (table, check, column),
        "ALTER TABLE %s VALIDATE CONSTRAINT %s" % (table, check),
        "ALTER TABLE %s ALTER COLUMN %s SET NOT NULL" % (table, column),
        "ALTER TABLE %s DROP CONSTRAINT %s" % (table, check),
    ]


def _mysql_online_index(event: ev.Event, st: _Stmt) -> Optional[_Safe]:
    """MySQL/MariaDB: an index build forced to copy the table or lock it is asked to run in place, lock-free."""
    if st.dialect != "mysql" or not _mysql_index_build(st):
        return None
    out = []
    pos = 0
    seen = set()
    for k, tok in enumerate(st.toks[:-2]):
        eq, value = st.toks[k + 1], st.toks[k + 2]
        if tok.kind == "w" and tok.v in ("ALGORITHM", "LOCK") and eq.v == "=" and value.kind == "w":
            out.append(st.text[pos : value.off] + ("INPLACE" if tok.v == "ALGORITHM" else "NONE"))
            pos = value.off + len(value.raw)
            seen.add(tok.v)
    text = "".join(out) + st.text[pos:]
    sep = " " if st.words()[:1] == ["CREATE"] else ", "
    for option, value in (("ALGORITHM", "INPLACE"), ("LOCK", "NONE")):
        if option not in seen:
            text = text.rstrip() + "%s%s=%s" % (sep, option, value)
    return _Safe(
        "InnoDB builds a secondary index in place while reads and writes go on: ALGORITHM=INPLACE, LOCK=NONE asks "
        "for exactly that, and makes the server refuse (rather than copy the table) if it cannot",
        in_place=[text],
    )


def _mysql_index_build(st: _Stmt) -> bool:
    """``CREATE [UNIQUE] INDEX``, or an ``ALTER TABLE`` whose every action adds an index or is an option."""
    words = st.words()
    if words[:1] == ["CREATE"]:
        return words[1:2] == ["INDEX"] or words[1:3] == ["UNIQUE", "INDEX"]
    if words[:2] != ["ALTER", "TABLE"]:
        return False
    start = _name_end(st.toks, 2)
    for action in split_top(st.toks[start:]):
        first = [t.v for t in action[:2] if t.kind == "w"]
        if first[:1] in (["ALGORITHM"], ["LOCK"]):
            continue
        if first[:1] != ["ADD"] or first[1:2] not in (["INDEX"], ["KEY"], ["UNIQUE"]):
            return False
    return True


def _add_column_then_backfill(event: ev.Event, st: _Stmt) -> Optional[_Safe]:
    if not isinstance(event, ev.AddColumn) or event.via_rebuild or not event.volatile:
        return None
    added = _added_column(st)
    if added is None:
        return None
    table, i = added
    col = parse_column(st.toks[i:])
    if col is None or not col.has_default or not col.default_toks or col.serial or col.identity or col.generated:
        return None
    if col.primary_key or col.unique or col.references or col.check or col.collate:
        return None
    column = st.cut(i, i + 1)
    type_text = _span(st, col.type_toks)
    default = _span(st, col.default_toks)
    # writing SQL is this module's purpose; the names and the default are the migration's own text
    batch = (  # noqa: S608
        "DO $zerodown$\nDECLARE\n  n bigint;\nBEGIN\n  LOOP\n"
        "    UPDATE %(t)s SET %(c)s = %(d)s WHERE ctid IN (SELECT ctid FROM %(t)s WHERE %(c)s IS NULL LIMIT %(rows)d);\n"
        "    GET DIAGNOSTICS n = ROW_COUNT;\n    EXIT WHEN n = 0;\n    COMMIT;\n  END LOOP;\nEND\n$zerodown$"
    ) % {"t": table, "c": column, "d": default, "rows": BATCH_ROWS}
    steps = [
        "ALTER TABLE %s ADD COLUMN %s %s" % (table, column, type_text),
        "ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s" % (table, column, default),
        batch,
    ]
    if col.not_null:
        steps.extend(_not_null_steps(table, column, col.name, st.dialect))
    return _Safe(
        "adds the column nullable and without a default (no rewrite of the table), gives new rows the default, "
        "then fills the existing rows %d at a time, each batch committed on its own (the file runs without a "
        "transaction)%s" % (BATCH_ROWS, "; NOT NULL comes last, through a validated CHECK" if col.not_null else ""),
        no_tx=steps,
    )


def _span(st: _Stmt, toks: Sequence[Token]) -> str:
    last = toks[-1]
    return st.text[toks[0].off : last.off + len(last.raw)].strip()


def _set_not_null(event: ev.SetNotNull, st: _Stmt) -> Optional[_Safe]:
    if st.dialect == "postgresql":
        return _set_not_null_checked(event, st)
    if event.via == "modify":
        return _held_for_contract(event, st)
    return None  # an SQLite rebuild does more than the NOT NULL


def _held_for_contract(event: ev.Event, st: _Stmt) -> Optional[_Safe]:
    if isinstance(event, ev.DropColumn) and event.via_rebuild:
        return None  # an SQLite rebuild does more than the drop: it is not one statement to hold back
    if isinstance(event, ev.DropTable) and event.how not in ("drop",):
        return None
    if isinstance(event, ev.RenameColumn) and event.via not in ("rename",):
        return None
    return _Safe(
        "nothing to expand: the new release stops using %s, and the statement itself waits for contract.yml, which "
        "runs it once no host runs the old version" % _what(event),
        contract=[st.cut(0)],
    )


def _what(event: ev.Event) -> str:
    if isinstance(event, ev.DropColumn):
        return "column %s.%s" % (event.table, event.column)
    if isinstance(event, ev.DropTable):
        return "table %s" % event.table
    if isinstance(event, ev.RenameColumn):
        return "the new name %s (it keeps reading and writing %s until the rename)" % (event.new, event.old)
    if isinstance(event, ev.SetNotNull):
        return "NULL in %s.%s (it always writes the column, and NULLs are backfilled)" % (event.table, event.column)
    if isinstance(event, ev.DropView):
        return "view %s" % event.name
    if isinstance(event, ev.DropIndex):
        return "the uniqueness of %s" % ", ".join(event.unique_names or event.names)
    return "it"


def _rename_table_via_view(event: ev.RenameTable, st: _Stmt) -> Optional[_Safe]:
    if event.kind != "table" or event.moved_schema:
        return None
    words = st.words()
    if words[:2] == ["ALTER", "TABLE"]:
        head = st.alter_table()
        if head is None or st.words(head[1])[:2] != ["RENAME", "TO"]:
            return None
        old, i = head
        new_start = i + 2
        if _name_end(st.toks, new_start) != len(st.toks):
            return None
        new = st.cut(new_start)
    elif words[:2] == ["RENAME", "TABLE"] and st.dialect == "mysql":
        to = st.index("TO")
        if to < 0 or _name_end(st.toks, 2) != to or _name_end(st.toks, to + 1) != len(st.toks):
            return None  # one pair only
        old, new = st.cut(2, to), st.cut(to + 1)
    else:
        return None
    view = _qualified_like(old, new)
    contract = ["DROP VIEW %s" % view, "ALTER TABLE %s RENAME TO %s" % (old, new)]
    if st.dialect == "mysql":
        contract = ["DROP VIEW %s" % view, "RENAME TABLE %s TO %s" % (old, new)]
    if st.dialect == "sqlite":
        # SQLite views are read-only: the new release could not write through one
        return _Safe(
            "SQLite views cannot be written through, so there is nothing to expand: the new release keeps using %s "
            "until contract.yml runs the rename" % event.old,
            contract=[st.cut(0)],
        )
    return _Safe(
        "expands with an updatable view under the new name (SELECT * of the old table: the new release reads and "
        "writes %s while the old one keeps using %s); contract.yml drops the view and renames the table"
        % (event.new, event.old),
        in_place=["CREATE VIEW %s AS SELECT * FROM %s" % (view, old)],  # noqa: S608 - the migration's own names
        contract=contract,
    )


def _qualified_like(old: str, new: str) -> str:
    """``new`` in ``old``'s schema (RENAME TO keeps the schema, a view is created where it is named)."""
    toks = tokenize(old)
    if "." in new or len(toks) < 3:
        return new
    return old[: toks[-1].off] + new


#: rule id -> builder(event, statement) for the rules with a known safe form
REWRITES: Dict[str, Callable[[ev.Event, _Stmt], Optional[_Safe]]] = {
    "create_index_blocking": _create_index_concurrently,
    "drop_index_blocking": _drop_index_concurrently,
    "add_constraint_validating": _not_valid_then_validate,
    "add_foreign_key_blocking": _not_valid_then_validate,
    "set_not_null": _set_not_null,
    "table_rewrite": _mysql_online_index,
    "lock_table": _mysql_online_index,
    "add_column_volatile_default": _add_column_then_backfill,
    "drop_column": _held_for_contract,
    "drop_table": _held_for_contract,
    "drop_view": _held_for_contract,
    "drop_unique_constraint": _held_for_contract,
    "rename_column": _held_for_contract,
    "rename_table": _rename_table_via_view,
}

#: rule id -> why it has no rewrite (docs/modules/migration_check.md, "Safe rewrites")
NO_REWRITE: Dict[str, str] = {
    "drop_schema": "dropping a schema drops everything in it; split it into the drops of its objects first",
    "add_not_null_no_default": "the safe form needs a default value, which only the author can choose",
    "add_unique_constraint": (
        "old-version writes of duplicates start failing whatever the lock; PostgreSQL's CREATE UNIQUE INDEX "
        "CONCURRENTLY + ADD CONSTRAINT ... USING INDEX still needs the old version to stop writing duplicates"
    ),
    "alter_primary_key": "a new key needs a unique index and a release that stops relying on the old key",
    "alter_type": (
        "the safe form is a second column with the new type, kept in sync by the application or a trigger: the "
        "conversion and the sync are the author's to write"
    ),
    "truncate": "deleting every row is the statement's purpose; no form of it keeps the old version's data",
    "delete_all": "deleting every row is the statement's purpose; no form of it keeps the old version's data",
    "update_all": "which rows may be updated in batches, and in which order, depends on the data",
    "unparsed": "the statement could not be read, so there is nothing to rewrite",
    "undetermined": "the statement's effect could not be determined, so there is nothing to rewrite",
    "invalid_waiver": "a waiver comment is not a statement",
}


def attach(report: Report, text: str) -> None:
    """Give each finding of ``report`` with a known safe form its ``rewrite``, and the report the whole file
    rewritten (``report.rewrite``); ``text`` is the file as analysed (the Up part, offsets of the events)."""
    safe_by_offset: Dict[int, tuple] = {}
    if report.contract:
        return  # a contract file runs once no old version does: it needs no safe form
    for finding in report.findings:
        safe = _safe_form(finding, text, report.dialect)
        if safe is None:
            continue
        finding.rewrite = _finding_rewrite(safe, report.path)
        if finding.blocking:  # a waived finding's statement stays as its author accepted it
            start = finding._event.ctx.start
            held = safe_by_offset.get(start)
            # one statement, several hazards: holding it for contract.yml (no old version left) answers them all,
            # so that form wins over one that only makes it lock less (a DROP INDEX of an index of unknown kind:
            # CONCURRENTLY for the lock, held for contract because it may be unique)
            if held is None or (safe.contract and not held[1].contract):
                safe_by_offset[start] = (start + len(finding._event.statement), safe)
    report.rewrite = _file_rewrite(report, text, safe_by_offset) if safe_by_offset else None


def _safe_form(finding: Finding, text: str, dialect: str) -> Optional[_Safe]:
    build = REWRITES.get(finding.rule)
    event = finding._event
    if build is None or event is None or event.ctx is None or event.ctx.depth != 0:
        return None  # a statement inside a routine or a DO block is the author's to move
    start = event.ctx.start
    statement = text[start : start + len(event.statement)]
    if not statement.strip():
        return None
    return build(event, _Stmt(statement, dialect))


def _names(path: str) -> Dict[str, str]:
    base = os.path.basename(path) if path and not path.startswith("<") else "migration.sql"
    stem = base[:-4] if base.lower().endswith(".sql") else base
    return {
        "migration": stem + REWRITE_SUFFIX,
        RUNS_NO_TX: stem + ".no-tx" + REWRITE_SUFFIX,
        RUNS_CONTRACT: stem + ".contract" + REWRITE_SUFFIX,
    }


def _statements(statements: Sequence[str]) -> str:
    return "".join(s.rstrip().rstrip(";") + ";\n" for s in statements)


def _extra_files(path: str, no_tx: Sequence[str], contract: Sequence[str]) -> List[dict]:
    names = _names(path)
    files = []
    if no_tx:
        files.append({"name": names[RUNS_NO_TX], "runs": RUNS_NO_TX, "sql": NO_TX_MARKER + "\n" + _statements(no_tx)})
    if contract:
        files.append(
            {"name": names[RUNS_CONTRACT], "runs": RUNS_CONTRACT, "sql": CONTRACT_MARKER + "\n" + _statements(contract)}
        )
    return files


def _finding_rewrite(safe: _Safe, path: str) -> dict:
    return {
        "sql": _statements(safe.in_place),
        "files": _extra_files(path, safe.no_tx, safe.contract),
        "note": safe.note,
    }


def _file_rewrite(report: Report, text: str, safe_by_offset: Dict[int, tuple]) -> dict:
    """The file with each rewritten statement replaced by what stays, and the files of what moves."""
    out = []
    pos = 0
    no_tx: List[str] = []
    contract: List[str] = []
    for start in sorted(safe_by_offset):
        end, safe = safe_by_offset[start]
        out.append(text[pos:start])
        moved = [n for n, part in ((RUNS_NO_TX, safe.no_tx), (RUNS_CONTRACT, safe.contract)) if part]
        where = " and ".join(_names(report.path)[n] for n in moved)
        body = _statements(safe.in_place).rstrip("\n").rstrip(";")
        if not body:
            # the whole statement moves; its terminator goes with it
            out.append("-- zerodown: moved to %s" % where)
            end = _after_terminator(text, end)
        else:
            out.append(("-- zerodown: continued in %s\n" % where if where else "") + body)
        pos = end
        no_tx.extend(safe.no_tx)
        contract.extend(safe.contract)
    out.append(text[pos:])
    names = _names(report.path)
    blocking = [f for f in report.findings if f.blocking]
    return {
        "complete": all(f.rewrite is not None for f in blocking),
        "files": [{"name": names["migration"], "runs": "migration", "sql": "".join(out)}]
        + _extra_files(report.path, no_tx, contract),
    }


def _after_terminator(text: str, end: int) -> int:
    m = re.match(r"[ \t]*;[ \t]*", text[end:])
    return end + m.end() if m else end
