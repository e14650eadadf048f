"""Which parser should sit beneath migration_check's rules? Measured, on both corpora.

Usage (from the repository root, with the optional parsers installed in the venv):
    .venv/bin/pip install pglast sqloxide sqlglot     # bench only; not a module requirement
    .venv/bin/python bench/migration_check/parsers.py [--rounds 3]

For every statement of the spec corpus (tests/corpus/migrations) and the real-world corpus
(tests/corpus/realworld), cut by the one front end (_sql/lexer.py, what migration_apply runs) after the same
placeholder substitution the checker does, it prints per parser and dialect:
  * understood: statements parsed into a statement tree (pglast: PostgreSQL's own grammar, libpg_query;
    sqloxide: sqlparser-rs; sqlglot: its fallback ``Command`` node counts as not understood; the current engine:
    statements its reader classified, i.e. that gave no unparsed/undetermined finding);
  * time to parse them all, best of N rounds;
  * the installed size of the package (what the host that runs the module would carry).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from zerodown_testkit.support import realworld
from zerodown_testkit.support.ansible_run import ensure_collection_link

REPO = Path(__file__).resolve().parents[2]
ensure_collection_link()

from ansible_collections.zerodown.deploy.plugins.module_utils._migrations import up_section  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.lexer import SplitError, split_statements  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import (  # noqa: E402
    _PLACEHOLDER_RE,
    analyze_sql,
)

SPEC = REPO / "tests" / "corpus" / "migrations"
DIALECTS = ("postgresql", "mysql", "sqlite")
SQLOXIDE_DIALECT = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}
SQLGLOT_DIALECT = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}


def statements():
    """{(corpus, dialect): [statement text]}"""
    out = {}
    files = [("spec", d, p) for d in DIALECTS for p in sorted((SPEC / d).glob("*.sql"))]
    files += [("real", c.dialect, c.path) for d in realworld.directories() for c in realworld.load(d)[1]]
    for corpus, dialect, path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        text = _PLACEHOLDER_RE.sub(lambda m: "_" * len(m.group(0)), up_section(text))
        try:
            found = split_statements(text, dialect)
        except SplitError:
            continue
        out.setdefault((corpus, dialect), []).extend(s.text for s in found)
    return out


def engine(stmt: str, dialect: str) -> bool:
    report = analyze_sql(stmt, dialect, on_undetermined="warn")
    return not any(f.rule in ("unparsed", "undetermined") for f in report.findings)


def parsers():
    found = {"engine (sqlparse lexer + reader)": (engine, "sqlparse")}
    try:
        import pglast

        def with_pglast(stmt: str, dialect: str) -> bool:
            if dialect != "postgresql":
                return None
            try:
                pglast.parse_sql(stmt)
                return True
            except pglast.parser.ParseError:
                return False

        found["pglast %s" % pglast.__version__] = (with_pglast, "pglast")
    except ImportError:
        print("pglast not installed: left out")
    try:
        import sqloxide

        def with_sqloxide(stmt: str, dialect: str) -> bool:
            try:
                sqloxide.parse_sql(sql=stmt, dialect=SQLOXIDE_DIALECT[dialect])
                return True
            except ValueError:
                return False

        found["sqloxide"] = (with_sqloxide, "sqloxide")
    except ImportError:
        print("sqloxide not installed: left out")
    try:
        import logging

        import sqlglot
        from sqlglot import exp

        logging.getLogger("sqlglot").setLevel(logging.CRITICAL)  # it logs every fallback to Command

        def with_sqlglot(stmt: str, dialect: str) -> bool:
            try:
                trees = sqlglot.parse(stmt, read=SQLGLOT_DIALECT[dialect])
            except sqlglot.errors.SqlglotError:
                return False
            return all(t is not None and not isinstance(t, exp.Command) for t in trees)

        found["sqlglot %s" % sqlglot.__version__] = (with_sqlglot, "sqlglot")
    except ImportError:
        print("sqlglot not installed: left out")
    return found


def size_of(package: str) -> str:
    mod = __import__(package)
    root = Path(mod.__file__).parent
    total = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    native = any(f.suffix in (".so", ".pyd") for f in root.rglob("*"))
    return "%.1f MB%s" % (total / 1e6, ", native extension" if native else ", pure Python")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    corpus = statements()
    print("statements: " + ", ".join("%s/%s %d" % (c, d, len(v)) for (c, d), v in sorted(corpus.items())))
    for name, (fn, package) in parsers().items():
        print("\n%s  (%s)" % (name, size_of(package)))
        for (c, d), stmts in sorted(corpus.items()):
            best = None
            understood = 0
            for _round in range(args.rounds):
                t0 = time.perf_counter()
                results = [fn(s, d) for s in stmts]
                elapsed = time.perf_counter() - t0
                best = elapsed if best is None else min(best, elapsed)
            if results and results[0] is None:
                print("  %-4s %-10s not this dialect" % (c, d))
                continue
            understood = sum(1 for r in results if r)
            print(
                "  %-4s %-10s understood %4d / %4d (%5.1f%%)   %7.1f ms (%.3f ms/statement)"
                % (c, d, understood, len(stmts), 100.0 * understood / len(stmts), best * 1000, best * 1000 / len(stmts))
            )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
