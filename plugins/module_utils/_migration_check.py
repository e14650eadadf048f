# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the migration_check module's engine, ``run(params, check_mode)``.

The judgement of one file is ``_sql_safety.analyze_sql``; this engine decides what it is given, in this order:

1. the options are checked (``check_params``: sqlparse present, waivers naming known rules with a reason,
   ``pending``/``unapplied`` used together and with a directory);
2. with ``schema_dsn``, the live catalog is read (``read_schema``), its errors scrubbed of the password;
3. the files are chosen (``select_files``): those that already ran are replayed as history into the catalog
   (``replay_history``), then the pending ones are judged in run order (``run_check``);
4. an incompatible result fails the module with the blocking findings, one line each (``incompatible_message``).

See docs/architecture.md, "Modules and engines" and "Migration rules".
"""

from __future__ import annotations

import os
import traceback
from typing import Any, Dict, List, Optional, Tuple

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._migrations import (
    MigrationError,
    MigrationFile,
    discover,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import redact, secrets_in
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import Catalog
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import Finding, rewrite_text
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.lexer import HAS_SQLPARSE, SQLPARSE_IMPORT_ERROR
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.registry import RULES
from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import SqlSafetyError, analyze_sql

#: migration_check's numeric options and their bounds.
NUMBERS = {
    "schema_connect_timeout": validate.TIMEOUT,
    "small_table_rows": validate.Limit(0, 10**12, unit="rows", integer=True),
}


def run(params: Dict[str, Any], check_mode: bool) -> Dict[str, Any]:
    """The migration_check module: judge the migrations; an incompatible result (with ``fail_on_incompatible``) is
    a ModuleFailure carrying the whole result. It only reads, so check mode is the same run."""
    check_params(params)
    catalog, schema_aware = read_schema(params)
    small = params["small_table_rows"] if schema_aware and params["small_table_rows"] > 0 else None
    result = analyse(params, catalog, small)
    result["changed"] = False
    result["schema_aware"] = schema_aware
    if not result["compatible"] and params["fail_on_incompatible"]:
        raise ModuleFailure(incompatible_message(result["report_lines"], result["rewrite_lines"]), result)
    return result


def check_params(params: Dict[str, Any]) -> None:
    """Refuse what cannot be checked, before any file or database is read."""
    if not HAS_SQLPARSE:
        raise ModuleFailure(missing_required_lib("sqlparse"), exception=str(SQLPARSE_IMPORT_ERROR))
    for waiver in params["waivers"]:
        if waiver["rule"] not in RULES or waiver["rule"] == "invalid_waiver":
            raise ModuleFailure("waivers: unknown rule %r; use one of: %s" % (waiver["rule"], ", ".join(sorted(RULES))))
        if not str(waiver["reason"]).strip():
            raise ModuleFailure("waivers: the waiver for %s needs a non-empty reason" % waiver["rule"])
    if params["sql"] is not None and params["pending"] is not None:
        raise ModuleFailure("pending goes with a directory path, not with sql")
    if params["unapplied"] and params["pending"] is None:
        raise ModuleFailure("unapplied goes with pending: name the pending files too")
    try:
        validate.numbers(params, NUMBERS)
    except validate.ValidationError as exc:
        raise ModuleFailure(str(exc)) from exc


def read_schema(params: Dict[str, Any]) -> Tuple[Catalog, bool]:
    """(catalog, schema_aware): the live catalog of ``schema_dsn``, or an empty one without it."""
    if not params["schema_dsn"]:
        return Catalog(), False
    # The schema DSN's password, however broken the DSN is: masked in every message.
    secrets = secrets_in(params) + ([params["schema_password"]] if params["schema_password"] else [])
    try:
        from ansible_collections.zerodown.deploy.plugins.module_utils._schema_catalog import (
            CatalogError,
            read_catalog,
        )
    except ImportError as exc:  # pragma: no cover - packaging error
        raise ModuleFailure("schema-aware mode is not available: %s" % exc) from exc
    try:
        catalog = read_catalog(
            params["schema_dsn"],
            params["dialect"],
            password=params["schema_password"],
            connect_timeout=params["schema_connect_timeout"],
            count_limit=max(params["small_table_rows"], 1),
        )
    except CatalogError as exc:
        raise ModuleFailure(redact("schema_dsn: %s" % exc, secrets)) from exc
    return catalog, True


def analyse(params: Dict[str, Any], catalog: Catalog, small_table_rows: Optional[int]) -> Dict[str, Any]:
    """``run_check`` with every error as a message (a reader bug too, with its traceback)."""
    try:
        return run_check(params, catalog, small_table_rows)
    except (MigrationError, SqlSafetyError) as exc:
        raise ModuleFailure(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - a reader bug must be a message, not a traceback
        raise ModuleFailure(
            "migration_check could not analyse the input: %s" % exc, exception=traceback.format_exc()
        ) from exc


def incompatible_message(lines: List[str], detailed: Optional[List[str]] = None) -> str:
    """The failure message: one line per blocking finding, each followed by its safe rewrite when it has one
    (``detailed``: ``Finding.with_rewrite()`` of the same findings)."""
    return (
        "migrations are not backward compatible (%d blocking finding%s); fix them the expand/contract way (the safe "
        "rewrite below a finding does it), move them to a contract migration, or waive them with a reason:\n%s"
        % (len(lines), "" if len(lines) == 1 else "s", "\n".join(detailed or lines))
    )


def select_files(params: Dict[str, Any]) -> Tuple[List[MigrationFile], List[MigrationFile]]:
    """(history, checked): the files that already ran, to replay, and the files to check, both in run order."""
    if os.path.isdir(params["path"]):
        history, checked = _select_in_directory(params)
    else:
        history, checked = _select_single_file(params)
    return (history if params["history"] else []), checked


def _select_in_directory(params: Dict[str, Any]) -> Tuple[List[MigrationFile], List[MigrationFile]]:
    """Without ``pending`` every file is checked; with it, the pending files are, and the others (but the
    ``unapplied``) already ran."""
    path = params["path"]
    pending = params["pending"]
    files = discover(path)
    if pending is None:
        return [], files
    names = {f.id for f in files}
    unknown = sorted(set(pending) - names) + sorted(set(params["unapplied"]) - names)
    if unknown:
        raise MigrationError(
            "pending/unapplied name files that are not in %s: %s (give file names, as migration_apply returns "
            "them)" % (path, ", ".join(unknown))
        )
    checked = [f for f in files if f.id in pending]
    history = [f for f in files if f.id not in pending and f.id not in params["unapplied"]]
    return history, checked


def _select_single_file(params: Dict[str, Any]) -> Tuple[List[MigrationFile], List[MigrationFile]]:
    """The one file is checked; with ``history``, the files of its directory that sort before it already ran."""
    path = params["path"]
    if params["pending"] is not None:
        raise MigrationError("pending needs a directory path, and %s is a file" % path)
    checked = discover(path)
    directory = os.path.dirname(os.path.abspath(path))
    if params["history"] and any(n.endswith(".sql") and n != checked[0].id for n in os.listdir(directory)):
        return [f for f in discover(directory) if f.version < checked[0].version], checked
    return [], checked


def replay_history(history: List[MigrationFile], dialect: str, catalog: Catalog) -> None:
    """Replay files that already ran into the catalog; the live schema (an authoritative catalog) wins."""
    target = Catalog() if catalog.authoritative else catalog
    for migration in history:
        analyze_sql(migration.text, dialect, migration.path, catalog=target, history=True)
    if target is not catalog:
        catalog.merge_history(target)


def _rewrite_lines(blocking: List[Finding]) -> List[str]:
    """Each blocking finding with its rewrite below it; a rewrite shared by two findings of one statement (a FOREIGN
    KEY is two hazards) is shown once."""
    shown = set()
    out = []
    for f in blocking:
        key = (f.file, f.line, rewrite_text(f.rewrite) if f.rewrite else None)
        out.append(f.one_line() if key in shown or not f.rewrite else f.with_rewrite())
        shown.add(key)
    return out


def run_check(params: Dict[str, Any], catalog: Catalog, small_table_rows: Optional[int]) -> Dict[str, Any]:
    """Judge ``sql``, or the selected files after replaying the history: the module's result before its verdict."""
    waivers = params["waivers"] or []
    undetermined = params["on_undetermined"]
    reports = []
    history: List[MigrationFile] = []
    if params["sql"] is not None:
        reports.append(
            analyze_sql(params["sql"], params["dialect"], "<sql>", waivers, catalog, small_table_rows, undetermined)
        )
    else:
        history, checked = select_files(params)
        replay_history(history, params["dialect"], catalog)
        catalog.pending_known = params["pending"] is not None
        for migration in checked:
            reports.append(
                analyze_sql(
                    migration.text, params["dialect"], migration.path, waivers, catalog, small_table_rows, undetermined
                )
            )
    files = [r.to_dict() for r in reports]
    findings = [f for r in reports for f in r.findings]
    blocking = [f for r in reports if not r.contract for f in r.findings if f.blocking]
    return {
        "compatible": all(r.compatible for r in reports),
        "files": files,
        "findings": [f.to_dict() for f in findings],
        "report_lines": [f.one_line() for f in blocking],
        "rewrite_lines": _rewrite_lines(blocking),
        "history": [f.path for f in history],
    }
