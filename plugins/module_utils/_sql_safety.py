# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: is a migration backward compatible?

The question (docs/architecture.md, migration rules): can the OLD application version keep
serving against the NEW schema while a rollout runs, without being blocked by
locks? This module answers it statically, for PostgreSQL, MySQL/MariaDB and
SQLite, with no database:

1. the file is cut into statements by the one SQL front end
   (``_sql/lexer.py``, the splitter migration_apply runs too), which knows
   comments, strings, quoted identifiers, PostgreSQL dollar quotes and COPY
   data, MySQL ``DELIMITER`` regions and compound bodies, goose blocks;
2. each statement is tokenised with sqlparse's lexer and classified by a small
   recursive-descent reader (``_sql/parse.py`` reads the tokens, optional
   keywords, several ALTER TABLE actions; ``_sql/reader.py`` and its
   ``_sql/handlers`` keep the file's state and emit events), which reports
   hazards under the rules of
   ``_sql/rules/<rule_id>.py``;
3. the file is judged by its net effect, as one transaction: objects created
   earlier in the file are free, ``NOT NULL DEFAULT x`` followed by ``DROP
   DEFAULT`` is a NOT NULL column without default, ``NOT VALID`` followed by
   ``VALIDATE`` in the same transaction still validates under the lock, an
   SQLite table rebuild is judged by what it changes;
4. bodies that run during the migration are looked into: ``DO`` blocks,
   functions/procedures the file calls, PL/pgSQL ``EXECUTE`` of literal
   strings, MySQL ``PREPARE`` of strings built with ``SET @s = ...``;
5. what it cannot determine is a blocking ``undetermined`` finding unless the
   caller asks ``on_undetermined="warn"``.

This module is the entry point (``analyze_sql``) and the waivers.

Judgement on NOT VALID then VALIDATE in one file: the ADD CONSTRAINT takes an
ACCESS EXCLUSIVE (CHECK) or SHARE ROW EXCLUSIVE (FOREIGN KEY) lock that is
held until the transaction ends, so a VALIDATE in the SAME transaction scans
the table while old-version writes wait: still a hazard. When the file runs
without a transaction (``-- +goose NO TRANSACTION``,
``-- zerodown:no-transaction``) or a ``COMMIT`` separates the two, VALIDATE
takes only SHARE UPDATE EXCLUSIVE and the pattern is safe.

A ``Catalog`` (``_sql/catalog.py``) carries what is known about the schema
from the files that already ran (replayed with ``history=True``), from one
checked file to the next, or from the live database in schema-aware mode, each
fact with its source; it makes verdicts more precise (prior type of a varchar
widening, old definition of a rebuilt SQLite table, whether an index is
unique, a validated NOT NULL check, table size).
"""

from __future__ import annotations

import fnmatch
import os
import re
from typing import Iterable, List, Optional, Set, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils._migrations import (
    _NO_TX_RE,
    is_contract,
    up_section,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import Catalog, TableInfo
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding, Report
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.lexer import HAS_SQLPARSE
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.reader import Analyzer
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.registry import RULES
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rewrite import attach as attach_rewrites
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import DIALECTS

ON_UNDETERMINED = ("block", "warn")


class SqlSafetyError(Exception):
    """Input that cannot be analysed at all (unknown dialect, missing sqlparse)."""


_WAIVER_RE = re.compile(r"(?:--|#|/\*)\s*zerodown:waive\b(?P<rest>[^\n]*)", re.IGNORECASE)
_WAIVER_BODY_RE = re.compile(r"^\s*(?P<rules>[A-Za-z_][\w\s,]*?)\s*\breason\s*:\s*(?P<reason>.*?)\s*(?:\*/\s*)?$")


def parse_waivers(text: str) -> Tuple[List[Tuple[int, Set[str], str]], List[Tuple[int, str, str]]]:
    """Waiver comments: ([(line, rules, reason)], [(line, excerpt, problem)])."""
    good = []
    bad = []
    if "zerodown:waive" not in text.lower():
        return good, bad
    for lineno, line in enumerate(text.split("\n"), 1):
        m = _WAIVER_RE.search(line)
        if not m:
            continue
        rest = m.group("rest")
        body = _WAIVER_BODY_RE.match(rest)
        if not body or not body.group("reason").strip():
            bad.append((lineno, line.strip(), "a waiver needs rule id(s) and a reason"))
            continue
        rules = {r for r in re.split(r"[\s,]+", body.group("rules").strip()) if r}
        unknown = sorted(r for r in rules if r not in RULES or r == "invalid_waiver")
        if not rules or unknown:
            bad.append((lineno, line.strip(), "unknown rule id(s) %s" % ", ".join(unknown or ["(none)"])))
            continue
        good.append((lineno, rules, body.group("reason").strip()))
    return good, bad


def waiver_matches(waiver: dict, path: str, rule: str) -> bool:
    if waiver.get("rule") != rule:
        return False
    pattern = waiver.get("file")
    if not pattern:
        return True
    return fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(os.path.basename(path), pattern)


def analyze_sql(
    sql_text: str,
    dialect: str,
    path: str = "<sql>",
    waivers: Iterable[dict] = (),
    catalog: Optional[Catalog] = None,
    small_table_rows: Optional[int] = None,
    on_undetermined: str = "block",
    history: bool = False,
) -> Report:
    """Judge one migration file (its Up part) and return a Report.

    ``waivers``: option-level waivers, dicts with ``rule``, ``reason`` and an optional ``file`` glob.
    ``catalog``: schema knowledge carried between files or read from the database; updated in place.
    ``small_table_rows``: with a catalog that knows row counts, lock-only hazards on smaller tables are dropped.
    ``on_undetermined``: ``block`` (a statement whose effect cannot be determined is a blocking ``undetermined``
    finding) or ``warn`` (it is a warning).
    ``history``: the file already ran; it is replayed only to learn the schema (its facts are named as history).
    """
    _check_options(dialect, on_undetermined)
    text = _normalised(sql_text)
    contract = is_contract(os.path.basename(path), text)
    no_tx = bool(_NO_TX_RE.search(text))
    report = Report(path, dialect, contract, no_tx)
    if "\x00" in text or _binaryish(text):
        report.findings.append(
            Finding(
                path,
                1,
                "",
                "unparsed",
                "error",
                "this is binary content, not SQL text: nothing in it can be checked",
                RULES["unparsed"].remedy,
            )
        )
        return report
    up = _up_text(text, dialect)
    catalog = catalog if catalog is not None else Catalog()
    analyzer = Analyzer(up, dialect, path, catalog, no_tx, small_table_rows, on_undetermined, history)
    analyzer.catalog_before = {
        name: _copy_table(t) for name, t in catalog.tables.items()
    }  # old definitions for rebuild judgement
    # did the file start from an empty schema and touch nothing it did not create? (Catalog.note_replayed)
    empty_before = not (catalog.tables or catalog.indexes or catalog.views or catalog.checks or catalog.replayed)
    analyzer.run()
    if history:
        catalog.note_replayed(touched_prior=not empty_before or analyzer.events > 0 or bool(analyzer.findings))
    findings = _not_sql_findings(analyzer.findings) if analyzer.not_sql else analyzer.findings
    report.statement_spans = list(analyzer.spans)
    good, bad = parse_waivers(up)
    findings.extend(_invalid_waiver(path, lineno, excerpt, problem) for lineno, excerpt, problem in bad)
    for f in findings:
        if f.rule != "invalid_waiver":
            _waive(f, analyzer.spans, good, waivers, path)
    findings.sort(key=lambda f: (f.line, f.rule))
    report.findings = findings
    if not history:
        # the events' offsets are the Up part's; it is the file itself unless Down sections were blanked out
        attach_rewrites(report, text if len(text) == len(up) else up)
    return report


def _check_options(dialect: str, on_undetermined: str) -> None:
    """Raise SqlSafetyError for input that cannot be analysed at all."""
    if dialect not in DIALECTS:
        raise SqlSafetyError("unknown dialect %r: use one of %s (MariaDB is mysql)" % (dialect, ", ".join(DIALECTS)))
    if on_undetermined not in ON_UNDETERMINED:
        raise SqlSafetyError(
            "unknown on_undetermined %r: use one of %s" % (on_undetermined, ", ".join(ON_UNDETERMINED))
        )
    if not HAS_SQLPARSE:
        raise SqlSafetyError("the Python library sqlparse is required on the host that runs migration_check")


def _normalised(sql_text: str) -> str:
    """The file's text with Unix line ends and without a byte-order mark."""
    text = sql_text.replace("\r\n", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark from a Windows editor is not part of the first statement
    return text


def _up_text(text: str, dialect: str) -> str:
    """The Up part of the file, as the reader reads it."""
    up = up_section(text)
    # placeholders (Flyway ${schema}, Go templates {{ ... }}) stand for names; MySQL runs /*!40101 ... */ bodies.
    up = _PLACEHOLDER_RE.sub(lambda m: "_" * len(m.group(0)), up)
    if dialect == "mysql" and "/*" in up:
        up = _VERSIONED_COMMENT_RE.sub(lambda m: " " * len(m.group(1)) + m.group(2) + "  ", up)
    return up


def _not_sql_findings(findings: List[Finding]) -> List[Finding]:
    """Not a migration (a config file, /etc/shadow given as path): its one finding, and not a word of the file in
    it - the module's result and the deploy's report are read by more people than the file is."""
    findings = [f for f in findings if f.rule == "unparsed"][:1]
    for f in findings:
        f.statement = ""
        f.message += " (no statement of it reads as SQL, so none of its content is shown: is it a migration file?)"
    return findings


def _invalid_waiver(path: str, lineno: int, excerpt: str, problem: str) -> Finding:
    return Finding(
        path,
        lineno,
        excerpt,
        "invalid_waiver",
        "error",
        problem + "; it waives nothing",
        RULES["invalid_waiver"].remedy,
    )


def _waive(
    finding: Finding,
    spans: List[Tuple[int, int]],
    comments: List[Tuple[int, Set[str], str]],
    waivers: Iterable[dict],
    path: str,
) -> None:
    """Mark ``finding`` waived by a waiver comment of its statement, else by an option-level waiver."""
    reason = _comment_waiver(finding, spans, comments)
    if reason is not None:
        finding.waived = True
        finding.waiver_reason = reason
    if not finding.waived:
        for w in waivers:
            if waiver_matches(w, path, finding.rule):
                finding.waived = True
                finding.waiver_reason = str(w.get("reason"))
                break


def _comment_waiver(
    finding: Finding, spans: List[Tuple[int, int]], comments: List[Tuple[int, Set[str], str]]
) -> Optional[str]:
    """The reason of the first waiver comment of ``finding``'s rule that belongs to its statement (between the end
    of the statement before it and its last line, or on its first line), or None."""
    span = finding._span
    prev_end = max([e for s, e in spans if e < span[0]] or [0])
    for lineno, rules, reason in comments:
        if finding.rule in rules and (prev_end < lineno <= span[1] or lineno == span[0]):
            return reason
    return None


# Flyway ${placeholders}, and the {{ ... }} of Go templates (gobuffalo pop/fizz, as Supabase Auth writes
# {{ index .Options "Namespace" }}) and Jinja: they stand for names, so they become one of the same length.
_PLACEHOLDER_RE = re.compile(r"\$\{[A-Za-z0-9_.:-]+\}|\{\{[^\n{}]*\}\}")
_VERSIONED_COMMENT_RE = re.compile(r"(/\*M?!\d*)(.*?)\*/", re.DOTALL)


def _copy_table(t: TableInfo) -> TableInfo:
    c = TableInfo(t.name, t.row_count, t.source)
    c.columns = {k: v.copy() for k, v in t.columns.items()}
    return c


def _binaryish(text: str) -> bool:
    sample = text[:4096]
    if not sample:
        return False
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    return control > len(sample) // 20
