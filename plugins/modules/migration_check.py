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
  - "Where the rule has a known safe form, the finding also carries it as SQL ready to save (RV(findings[].rewrite)),
    and the file its whole safe rewrite (RV(files[].rewrite)): for example C(CREATE INDEX) becomes C(CREATE INDEX
    CONCURRENTLY) in a file that runs without a transaction, C(ADD FOREIGN KEY) becomes C(NOT VALID) then C(VALIDATE
    CONSTRAINT), a C(DROP COLUMN) waits in a C(-- zerodown:contract) file. Each rewrite passes this check itself."
  - Files are ordered as migration tools order them (numeric version prefix); C(*.down.sql) files and goose
    C(-- +goose Down) sections are ignored. Files marked as contract migrations (a C(-- zerodown:contract) line or
    a C(.contract.sql) suffix) are analysed and reported with C(contract=true) but never make the result
    incompatible.
  - "A hazard can be waived deliberately, with a reason, by a C(-- zerodown:waive <rule> reason: <why>) comment on
    or directly above the statement, or by O(waivers). Waived findings are still reported, with C(waived=true)."
  - "History: the files of the migrations directory that already ran are replayed first (Up sections only, in run
    order) into an in-memory catalog of tables, columns (type, nullability, default), unique and primary keys,
    indexes and whether they are unique, CHECK constraints and whether they are validated, and views. Verdicts that
    depend on the prior schema use it: a PostgreSQL varchar widening, a MySQL C(MODIFY)/C(CHANGE) compared with the
    prior column, an SQLite table rebuild compared with the old definition, a C(DROP INDEX) of an index known not to
    be unique, C(SET NOT NULL) on a column with a validated C(CHECK (col IS NOT NULL)). Which files already ran is
    O(pending) (the others), or for a single file O(path) the files that sort before it. Findings that rest on such a
    fact name its source: this file, an earlier pending file, the migration history or the live schema."
  - "Unknown is not absent: an object the files do not create is known absent only to the live schema
    (O(schema_dsn)) or to a history whose first file started from an empty schema (it touches nothing it did not
    create). Otherwise it is unknown and a rule assumes the worst case the statement allows (the table exists and
    holds rows, a dropped constraint or index is UNIQUE, the column is NOT NULL); the finding says which fact was
    unknown and how to settle it: the history from the first migration, O(schema_dsn), or a waiver of the rule."
  - Static analysis needs no database. Optionally (O(schema_dsn)) the live catalog resolves what it cannot know
    alone (whether a table exists, a column's prior type (PostgreSQL varchar widening, MySQL length-prefix
    boundary) and nullability, and the row count, so a blocking index build on a table smaller than
    O(small_table_rows) is not a hazard). The database is only read.
  - The module never changes anything; it reports C(changed=false).
author:
  - zerodown.deploy contributors (@zerodown)
requirements:
  - sqlparse (Python library) on the host that runs the module
  - for O(schema_dsn) only, psycopg (PostgreSQL) or PyMySQL (MySQL/MariaDB)
attributes:
  check_mode:
    support: full
    description: The analysis is read-only and runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
  idempotent:
    support: full
    description: Nothing is ever changed.
options:
  path:
    description:
      - A migration file, or a directory whose C(*.sql) files (not recursive) are checked in version order.
      - Mutually exclusive with O(sql).
    type: path
  pending:
    description:
      - With a directory O(path), the names of its files that have not run yet (for example RV(zerodown.deploy.migration_apply#module:pending)
        of M(zerodown.deploy.migration_apply) in check mode). Only these are checked; the directory's other files
        already ran and are replayed as history (O(history)), except those in O(unapplied).
      - A table created by one pending file is new to the old version in the later pending files too.
      - Without it every file of the directory is checked, none is taken as history.
    type: list
    elements: str
  unapplied:
    description:
      - With O(pending), names of files that have not run and are not checked now either (contract migrations left
        for C(contract.yml)); they are neither checked nor replayed.
    type: list
    elements: str
    default: []
  history:
    description:
      - Replay the files that already ran (see O(pending); for a single-file O(path), the files of its directory
        that sort before it) to know the schema before the checked files.
      - With O(schema_dsn) the live schema wins where both know a fact; the history only adds what the live catalog
        does not read (CHECK constraints, non-unique indexes).
    type: bool
    default: true
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
  on_undetermined:
    description:
      - What a statement or file whose effect the checker cannot determine does (rule C(undetermined), naming the
        statement, its line and what is unknown), for example an SQLite table rebuild whose old definition is in
        neither the file, the migration history nor the live schema, a statement it cannot classify, or an
        C(EXECUTE) of a string built at run time.
      - V(block) (the default) makes it a blocking finding, resolved by the history (O(history)), O(schema_dsn) or
        an explicit waiver; V(warn) reports it as a warning and lets the file through (the earlier behaviour).
    type: str
    choices: [block, warn]
    default: block
  small_table_rows:
    description:
      - In schema-aware mode, lock-only hazards (C(create_index_blocking), C(drop_index_blocking),
        C(add_constraint_validating), C(add_foreign_key_blocking), C(add_column_volatile_default),
        C(table_rewrite)) on a table with fewer rows than this are not reported; the lock is too short to matter.
      - C(0) disables this.
    type: int
    default: 10000
notes:
  - The verdict is static and conservative, and it fails closed; a statement it cannot read is reported as rule
    C(unparsed) (blocking when it alters or drops an existing object), one whose effect it cannot determine as
    C(undetermined) (blocking unless O(on_undetermined=warn)); neither is ever ignored.
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

- name: Check only the pending files; the ones that already ran are replayed as history
  zerodown.deploy.migration_check:
    path: db/migrations
    dialect: postgresql
    pending: "{{ plan.pending }}"   # from zerodown.deploy.migration_apply in check mode

- name: Report only, and save the safe rewrite of every blocked file next to it (never applied as it is)
  zerodown.deploy.migration_check:
    path: db/migrations
    dialect: postgresql
    fail_on_incompatible: false
  register: migration_report

- name: Write each file of the rewrites (the role does this with zerodown_migration_write_rewrites)
  ansible.builtin.copy:
    content: "{{ item.1.sql }}"
    dest: "db/migrations/{{ item.1.name }}"
    mode: "0644"
  loop: "{{ migration_report.files | selectattr('rewrite') | subelements('rewrite.files') }}"
  loop_control:
    label: "{{ item.1.name }}"

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
    rewrite:
      description:
        - The whole file rewritten in its safe form, when at least one of its findings has a rewrite (RV(findings[].rewrite)),
          else null. The role C(zerodown.deploy.migrate) writes these files on request (C(zerodown_migration_write_rewrites)).
      type: dict
      contains:
        complete:
          description: Every blocking finding of the file has a rewrite (false - some still need the author).
          type: bool
        files:
          description:
            - "The files to save, in the order they must run. First C(<stem>.safe.sql), the file with each rewritten
              statement replaced by what stays (a C(-- zerodown: moved to ...) line where it all moves), then
              C(<stem>.no-tx.safe.sql) (with C(-- zerodown:no-transaction)) and C(<stem>.contract.safe.sql) (with
              C(-- zerodown:contract), run by C(playbooks/contract.yml)) when needed."
            - Every name ends in C(.safe.sql), which migration discovery skips; rename them into place to use them.
          type: list
          elements: dict
          contains:
            name:
              description: Suggested file name.
              type: str
            runs:
              description: C(migration) (in a transaction, as the original), C(no_transaction) or C(contract).
              type: str
            sql:
              description: The file's content, SQL ready to save.
              type: str
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
    rewrite:
      description:
        - The safe form of the statement, as SQL ready to save, when its rule has one (see C(docs/modules/migration_check.md),
          "Safe rewrites", for which rules do and why the others do not); null otherwise, and for a statement that
          cannot be rewritten exactly (several C(ALTER TABLE) actions, a statement inside a routine or C(DO) block).
        - Every rewrite passes this check itself (its contract part as a contract file) and ends in the schema the
          original statement makes.
      type: dict
      contains:
        sql:
          description: What replaces the statement in its own file; empty when all of it moves to RV(findings[].rewrite.files).
          type: str
        files:
          description:
            - The other files the safe form needs, with suggested names, e.g. C(CREATE INDEX CONCURRENTLY) in a file
              that runs without a transaction, or the contract part held for C(playbooks/contract.yml). Same shape as
              RV(files[].rewrite.files).
          type: list
          elements: dict
        note:
          description: What the rewrite does, and what the new release must do meanwhile.
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
      rewrite:
        sql: ""
        files:
          - name: 0042_drop_email.contract.safe.sql
            runs: contract
            sql: "-- zerodown:contract\nALTER TABLE users DROP COLUMN email;\n"
        note: "nothing to expand: the new release stops using column users.email, and the statement itself waits for
          contract.yml, which runs it once no host runs the old version"
    - file: migrations/0043_index.sql
      line: 1
      statement: CREATE INDEX orders_user_idx ON orders (user_id)
      rule: create_index_blocking
      severity: error
      message: CREATE INDEX without CONCURRENTLY on orders blocks every write while the index is built
      remedy: CREATE INDEX CONCURRENTLY, in a migration that runs outside a transaction.
      waived: false
      waiver_reason: null
      rewrite:
        sql: ""
        files:
          - name: 0043_index.no-tx.safe.sql
            runs: no_transaction
            sql: "-- zerodown:no-transaction\nCREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);\n"
        note: builds the index with CONCURRENTLY, which PostgreSQL refuses inside a transaction ...
report_lines:
  description: One human-readable line per blocking finding, C(file:line rule - message; remedy).
  returned: always
  type: list
  elements: str
rewrite_lines:
  description:
    - RV(report_lines), each followed by its finding's safe rewrite (note and SQL, indented) when it has one; a
      rewrite two findings of one statement share is shown once. This is the module's failure message.
  returned: always
  type: list
  elements: str
schema_aware:
  description: Whether the live catalog of O(schema_dsn) was used.
  returned: always
  type: bool
history:
  description: The files replayed as history (already run), in run order.
  returned: always
  type: list
  elements: str
  sample: [migrations/0001_create_users.sql, migrations/0002_add_email.sql]
"""

from ansible_collections.zerodown.deploy.plugins.module_utils._migration_check import run  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils._module import run_module  # noqa: E402


def main() -> None:
    waiver = dict(rule=dict(type="str", required=True), file=dict(type="str"), reason=dict(type="str", required=True))
    argument_spec = dict(
        path=dict(type="path"),
        sql=dict(type="str"),
        dialect=dict(type="str", required=True, choices=["postgresql", "mysql", "sqlite"]),
        fail_on_incompatible=dict(type="bool", default=True),
        waivers=dict(type="list", elements="dict", default=[], options=waiver),
        schema_dsn=dict(type="str", no_log=True),
        schema_password=dict(type="str", no_log=True),
        schema_connect_timeout=dict(type="float", default=10),
        small_table_rows=dict(type="int", default=10000),
        on_undetermined=dict(type="str", default="block", choices=["block", "warn"]),
        pending=dict(type="list", elements="str"),
        unapplied=dict(type="list", elements="str", default=[]),
        history=dict(type="bool", default=True),
    )
    run_module(argument_spec, run, mutually_exclusive=[("path", "sql")], required_one_of=[("path", "sql")])


if __name__ == "__main__":
    main()
