#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: migration_check
short_description: Decide whether SQL migrations are backward compatible with the running release
version_added: 0.1.0
description:
  - Statically analyses migration files (or inline SQL) for PostgreSQL, MySQL/MariaDB or SQLite and reports every
    statement that would break the B(old) application version while a rollout runs, or block it behind a lock
    (design rules in C(docs/modules/migration_check.md)).
  - Each finding names the file, the line where the statement starts, a statement excerpt, the rule id, why it is
    a hazard and the expand/contract way to do it instead.
  - Files are ordered as migration tools order them (numeric version prefix); C(*.down.sql) files and goose
    C(-- +goose Down) sections are ignored. Files marked as contract migrations (a C(-- zerodown:contract) line or
    a C(.contract.sql) suffix) are analysed and reported with C(contract=true) but never make the result
    incompatible.
  - A hazard can be waived deliberately, with a reason, by a C(-- zerodown:waive <rule> reason: <why>) comment on
    or directly above the statement, or by O(waivers). Waived findings are still reported, with C(waived=true).
  - Static analysis needs no database. Optionally (O(schema_dsn)) the live catalog resolves what it cannot know
    alone: whether a table exists, a column's prior type (PostgreSQL varchar widening, MySQL length-prefix
    boundary) and nullability, and the row count, so a blocking index build on a table smaller than
    O(small_table_rows) is not a hazard. The database is only read.
  - The module never changes anything; it reports C(changed=false).
author:
  - zerodown.deploy contributors
requirements:
  - sqlparse (Python library) on the host that runs the module
  - for O(schema_dsn) only, psycopg (PostgreSQL) or PyMySQL (MySQL/MariaDB)
attributes:
  check_mode:
    support: full
    description: The analysis is read-only and runs the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
    description: Nothing is ever changed.
options:
  path:
    description:
      - A migration file, or a directory whose C(*.sql) files (not recursive) are checked in version order.
      - Mutually exclusive with O(sql).
    type: path
  sql:
    description:
      - Inline SQL to check instead of files. Findings name the file C(<sql>).
    type: str
  dialect:
    description:
      - SQL dialect of the migrations. C(mysql) covers MariaDB.
    type: str
    required: true
    choices: [postgresql, mysql, sqlite]
  fail_on_incompatible:
    description:
      - Fail the task when a non-contract file has a blocking (severity C(error), not waived) finding. The failure
        message lists one line per finding, C(file:line rule - why; remedy).
      - With V(false) the result is returned either way; look at RV(compatible).
    type: bool
    default: true
  waivers:
    description:
      - Deliberate exceptions, for findings that are safe in your situation. Each waives one rule, optionally only
        in files matching a glob, and needs a reason; waived findings stay in the result with C(waived=true).
    type: list
    elements: dict
    default: []
    suboptions:
      rule:
        description: The rule id to waive (see the rules table in the module documentation).
        type: str
        required: true
      file:
        description: Shell glob matched against the file's path and its base name; all files when omitted.
        type: str
      reason:
        description: Why this is safe here; recorded with the finding.
        type: str
        required: true
  schema_dsn:
    description:
      - Optional. Connection string of the database the migrations will run against, to resolve what static
        analysis cannot (schema-aware mode). A URL (C(postgresql://user@host:5432/db), C(mysql://...),
        C(sqlite:///abs/path.db)), a libpq C(key=value) string, or an absolute SQLite file path.
      - Only catalog queries and row estimates are read; nothing is written.
    type: str
  schema_password:
    description: Password for O(schema_dsn), if not in it. Never logged or returned.
    type: str
  schema_connect_timeout:
    description: Seconds to wait for the O(schema_dsn) connection.
    type: float
    default: 10
  small_table_rows:
    description:
      - In schema-aware mode, lock-only hazards (C(create_index_blocking), C(drop_index_blocking),
        C(add_constraint_validating), C(add_foreign_key_blocking), C(add_column_volatile_default),
        C(table_rewrite)) on a table with fewer rows than this are not reported; the lock is too short to matter.
      - C(0) disables this.
    type: int
    default: 10000
notes:
  - The verdict is static and conservative; a statement it cannot classify is reported as rule C(unparsed)
    (blocking when it alters or drops an existing object), never ignored.
seealso:
  - module: zerodown.deploy.migration_apply
"""

EXAMPLES = r"""
- name: Block the release on backward-incompatible migrations
  zerodown.deploy.migration_check:
    path: "{{ zerodown_migrations_dir }}"
    dialect: postgresql

- name: Report only, with a deliberate exception
  zerodown.deploy.migration_check:
    path: db/migrations
    dialect: mysql
    fail_on_incompatible: false
    waivers:
      - rule: drop_column
        file: "*_drop_legacy_flag.sql"
        reason: column unused since release 41, see OPS-123
  register: migration_report

- name: Check inline SQL
  zerodown.deploy.migration_check:
    sql: "ALTER TABLE users ADD COLUMN nickname text;"
    dialect: sqlite

- name: Schema-aware mode resolves prior types and table sizes
  zerodown.deploy.migration_check:
    path: migrations
    dialect: postgresql
    schema_dsn: "postgresql://deploy@db.internal:5432/app"
    schema_password: "{{ vault_db_password }}"
"""

RETURN = r"""
compatible:
  description: True when no non-contract file has a blocking finding.
  returned: always
  type: bool
  sample: false
files:
  description: One entry per file checked, in run order (inline SQL is one entry named C(<sql>)).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Path of the file.
      type: str
    compatible:
      description: The file alone has no blocking finding (always true for contract files).
      type: bool
    contract:
      description: The file is a contract migration, reported but never blocking.
      type: bool
    findings:
      description: The file's findings, same shape as RV(findings).
      type: list
      elements: dict
findings:
  description: Every finding of every file, in file and line order.
  returned: always
  type: list
  elements: dict
  contains:
    file:
      description: Path of the file (C(<sql>) for inline SQL).
      type: str
    line:
      description: 1-based line in the file where the statement starts.
      type: int
    statement:
      description: Excerpt of the statement, whitespace collapsed.
      type: str
    rule:
      description: Rule id, for example C(drop_column), C(create_index_blocking), C(unparsed).
      type: str
    severity:
      description: C(error) (blocking unless waived) or C(warning).
      type: str
    message:
      description: What the statement does and why it breaks or blocks the old version.
      type: str
    remedy:
      description: The expand/contract way to get the same result safely.
      type: str
    waived:
      description: Whether a waiver (comment or O(waivers)) covers this finding.
      type: bool
    waiver_reason:
      description: The waiver's reason, or null.
      type: str
  sample:
    - file: migrations/0042_drop_email.sql
      line: 3
      statement: ALTER TABLE users DROP COLUMN email
      rule: drop_column
      severity: error
      message: drops column users.email while the old version still reads or writes it
      remedy: Release code that no longer reads or writes the column first; drop it in a later contract migration.
      waived: false
      waiver_reason: null
report_lines:
  description: One human-readable line per blocking finding, C(file:line rule - message; remedy).
  returned: always
  type: list
  elements: str
schema_aware:
  description: Whether the live catalog of O(schema_dsn) was used.
  returned: always
  type: bool
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.zerodown.deploy.plugins.module_utils._migrations import MigrationError, discover
from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import (
    HAS_SQLPARSE,
    RULES,
    SQLPARSE_IMPORT_ERROR,
    Catalog,
    SqlSafetyError,
    analyze_sql,
)


def run_check(params: dict, catalog: Catalog, small_table_rows) -> dict:
    waivers = params["waivers"] or []
    reports = []
    if params["sql"] is not None:
        reports.append(analyze_sql(params["sql"], params["dialect"], "<sql>", waivers, catalog, small_table_rows))
    else:
        for migration in discover(params["path"]):
            reports.append(
                analyze_sql(migration.text, params["dialect"], migration.path, waivers, catalog, small_table_rows)
            )
    files = [r.to_dict() for r in reports]
    findings = [f for r in reports for f in r.findings]
    blocking = [f for r in reports if not r.contract for f in r.findings if f.blocking]
    return {
        "compatible": all(r.compatible for r in reports),
        "files": files,
        "findings": [f.to_dict() for f in findings],
        "report_lines": [f.one_line() for f in blocking],
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            sql=dict(type="str"),
            dialect=dict(type="str", required=True, choices=["postgresql", "mysql", "sqlite"]),
            fail_on_incompatible=dict(type="bool", default=True),
            waivers=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    rule=dict(type="str", required=True),
                    file=dict(type="str"),
                    reason=dict(type="str", required=True),
                ),
            ),
            schema_dsn=dict(type="str", no_log=True),
            schema_password=dict(type="str", no_log=True),
            schema_connect_timeout=dict(type="float", default=10),
            small_table_rows=dict(type="int", default=10000),
        ),
        mutually_exclusive=[("path", "sql")],
        required_one_of=[("path", "sql")],
        supports_check_mode=True,
    )
    if not HAS_SQLPARSE:
        module.fail_json(msg=missing_required_lib("sqlparse"), exception=str(SQLPARSE_IMPORT_ERROR))
    params = module.params
    for waiver in params["waivers"]:
        if waiver["rule"] not in RULES or waiver["rule"] == "invalid_waiver":
            module.fail_json(
                msg="waivers: unknown rule %r; use one of: %s" % (waiver["rule"], ", ".join(sorted(RULES)))
            )
        if not str(waiver["reason"]).strip():
            module.fail_json(msg="waivers: the waiver for %s needs a non-empty reason" % waiver["rule"])
    if params["small_table_rows"] < 0:
        module.fail_json(msg="small_table_rows must be 0 or more, got %d" % params["small_table_rows"])

    catalog = Catalog()
    schema_aware = False
    if params["schema_dsn"]:
        try:
            from ansible_collections.zerodown.deploy.plugins.module_utils._schema_catalog import (
                CatalogError,
                read_catalog,
            )
        except ImportError as exc:  # pragma: no cover - packaging error
            module.fail_json(msg="schema-aware mode is not available: %s" % exc)
        try:
            catalog = read_catalog(
                params["schema_dsn"],
                params["dialect"],
                password=params["schema_password"],
                connect_timeout=params["schema_connect_timeout"],
            )
        except CatalogError as exc:
            module.fail_json(msg="schema_dsn: %s" % exc)
        schema_aware = True

    small = params["small_table_rows"] if schema_aware and params["small_table_rows"] > 0 else None
    try:
        result = run_check(params, catalog, small)
    except MigrationError as exc:
        module.fail_json(msg=str(exc))
    except SqlSafetyError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # noqa: BLE001 - a reader bug must be a message, not a traceback
        module.fail_json(msg="migration_check could not analyse the input: %s" % exc, exception=traceback.format_exc())
    result["changed"] = False
    result["schema_aware"] = schema_aware
    if not result["compatible"] and params["fail_on_incompatible"]:
        lines = result["report_lines"]
        result["msg"] = (
            "migrations are not backward compatible (%d blocking finding%s); fix them the expand/contract way, move "
            "them to a contract migration, or waive them with a reason:\n%s"
            % (len(lines), "" if len(lines) == 1 else "s", "\n".join(lines))
        )
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
