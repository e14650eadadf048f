# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: what migration_check reports, a finding and a file's report."""

from __future__ import annotations

from typing import List, Mapping, Optional, Set, Tuple


class Finding:
    FIELDS = (
        "file",
        "line",
        "statement",
        "rule",
        "severity",
        "message",
        "remedy",
        "waived",
        "waiver_reason",
        "rewrite",
    )
    __slots__ = FIELDS + ("_span", "_event")

    def __init__(
        self,
        file: str,
        line: int,
        statement: str,
        rule: str,
        severity: str,
        message: str,
        remedy: str,
    ) -> None:
        self.file = file
        self.line = line
        self.statement = statement
        self.rule = rule
        self.severity = severity
        self.message = message
        self.remedy = remedy
        self.waived = False
        self.waiver_reason: Optional[str] = None
        # the safe form of the statement, as SQL to save (``_sql/rewrite.py``), or None when the rule has none
        self.rewrite: Optional[dict] = None
        self._span = (line, line)
        self._event: Optional[object] = None  # the event the finding was made on (the rewrite reads its facts)

    @property
    def blocking(self) -> bool:
        return self.severity == "error" and not self.waived

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.FIELDS}

    def one_line(self) -> str:
        return "%s:%d %s — %s; %s" % (self.file, self.line, self.rule, self.message, self.remedy)

    def with_rewrite(self, indent: str = "    ") -> str:
        """``one_line()``, then the safe rewrite (if any) indented below it: the module's message and the CLI."""
        if not self.rewrite:
            return self.one_line()
        body = "\n".join(indent + line for line in rewrite_text(self.rewrite).split("\n"))
        return "%s\n%ssafe rewrite: %s\n%s" % (self.one_line(), indent, self.rewrite.get("note", ""), body)

    def __repr__(self) -> str:
        return "Finding(%s:%d %s %s%s)" % (
            self.file,
            self.line,
            self.rule,
            self.severity,
            " waived" if self.waived else "",
        )


class Report:
    """What ``analyze_sql`` found in one file."""

    def __init__(self, path: str, dialect: str, contract: bool, no_transaction: bool) -> None:
        self.path = path
        self.dialect = dialect
        self.contract = contract
        self.no_transaction = no_transaction
        self.findings: List[Finding] = []
        # (first line, last line) of each top-level statement judged, as the front end cut them
        self.statement_spans: List[Tuple[int, int]] = []
        # the whole file rewritten where its findings have a safe form (``_sql/rewrite.py``), or None
        self.rewrite: Optional[dict] = None

    @property
    def compatible(self) -> bool:
        if self.contract:
            return True
        return not any(f.blocking for f in self.findings)

    @property
    def blocking_rules(self) -> Set[str]:
        return {f.rule for f in self.findings if f.blocking}

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "compatible": self.compatible,
            "contract": self.contract,
            "findings": [f.to_dict() for f in self.findings],
            "rewrite": self.rewrite,
        }


def rewrite_text(rewrite: Mapping) -> str:
    """A finding's rewrite as one SQL text: what replaces the statement, then each extra file under a
    ``-- save as <name>`` line (the module's message, the CLI and the HTML report show this)."""
    parts = []
    if rewrite.get("sql"):
        parts.append(str(rewrite["sql"]).rstrip())
    for f in rewrite.get("files") or []:
        parts.append("-- save as %s\n%s" % (f.get("name"), str(f.get("sql", "")).rstrip()))
    return "\n".join(parts)
