#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: migration_apply
short_description: Apply pending SQL migration files safely, once, in order
version_added: 0.1.0
description:
  - Applies the pending migration files of a directory, in version order, to a PostgreSQL, MySQL/MariaDB or
    SQLite database, and records each file in a tracking table (C(id), C(checksum), C(applied_at), C(release),
    C(duration_ms), C(applied_by)), which is created when missing.
  - File discovery and ordering are the same as M(zerodown.deploy.migration_check) uses (numeric version
    prefixes, C(*.up.sql) without C(*.down.sql), goose C(-- +goose Up) sections only), so the files checked are
    the files applied.
  - B(One runner at a time.) PostgreSQL C(pg_try_advisory_lock) and MySQL/MariaDB C(GET_LOCK) are held for the
    whole run; SQLite takes C(BEGIN EXCLUSIVE) for each file and re-reads the tracking table inside it. Two
    runners started together never apply a file twice; the second waits up to O(runner_lock_timeout).
  - B(Each file in a transaction where the dialect allows it), together with its tracking row. PostgreSQL and
    SQLite run every file in one transaction, so a failing statement leaves nothing of that file applied.
    B(MySQL and MariaDB commit DDL implicitly), so a file containing DDL (C(CREATE), C(ALTER), C(DROP), C(RENAME),
    ...) cannot be rolled back. Such files are listed in RV(non_transactional), and when one fails mid-file the
    error and RV(statements_run) say exactly which statements ran and stay applied. Keep MySQL migrations to one
    DDL statement per file to make every file atomic.
  - Files marked with a C(-- +goose NO TRANSACTION) or C(-- zerodown:no-transaction) line run statement by
    statement outside a transaction (needed for PostgreSQL C(CREATE INDEX CONCURRENTLY)). A PostgreSQL statement
    that cannot run in a transaction in an unmarked file is an error before anything runs.
  - B(Lock guards.) Before each file, PostgreSQL gets C(SET LOCAL lock_timeout) and C(statement_timeout), because an
    C(ALTER TABLE) waiting behind a long transaction would otherwise block every query on that table. On a lock
    timeout the file is rolled back and retried O(lock_retries) times, O(lock_retry_delay) seconds apart.
    MySQL/MariaDB get C(lock_wait_timeout) and C(innodb_lock_wait_timeout) (whole seconds, rounded up) and, on
    MariaDB, C(max_statement_time) (MySQL's C(max_execution_time) only limits C(SELECT)). SQLite waits
    O(lock_timeout) for its exclusive lock, with the same retries, and enforces O(statement_timeout) with a
    progress handler.
  - B(Contract migrations) (files with a C(-- zerodown:contract) line or a C(.contract.sql) suffix) are never
    applied by default; they are returned in RV(skipped_contract). O(contract=true) applies only them, and only
    once every expand migration ordered before them is applied; C(playbooks/contract.yml) does that after
    checking that every application host runs the new release.
  - A file that was applied and has changed since (checksum mismatch) is an error naming the file, before
    anything is applied.
  - Passwords are never shown; O(password) and O(dsn) are C(no_log) and every error message is scrubbed.
author:
  - zerodown.deploy contributors (@zerodown)
attributes:
  check_mode:
    support: full
    description: Opens a read-only session, reads the tracking table if it exists and returns the pending list;
      it creates nothing, not even the tracking table or a missing SQLite file.
  diff_mode:
    support: full
    description: Shows the applied migration ids before and after.
  idempotent:
    support: full
    description: Applied files are recorded; a second run applies nothing and reports C(changed=false).
options:
  path:
    description:
      - Directory with the migration files (or a single file), on the host that runs the module.
    type: path
    required: true
  dialect:
    description:
      - Database dialect. C(mysql) covers MariaDB.
      - May be omitted when O(dsn) is a URL whose scheme names the dialect.
    type: str
    choices: [postgresql, mysql, sqlite]
  dsn:
    description:
      - Connection string. A libpq/SQLAlchemy-style URL (C(postgresql://user:pass@host:5432/db),
        C(postgres://), C(postgresql+psycopg://), C(mysql://), C(mysql+pymysql://), C(mariadb://),
        C(sqlite:///abs/path.db)), a libpq C(key=value) string, or for SQLite an absolute file path.
      - O(host), O(port), O(user), O(password) and O(database) override the parts of the DSN.
    type: str
  host:
    description: Database server host name or address.
    type: str
  port:
    description: Database server port (default 5432 for PostgreSQL, 3306 for MySQL).
    type: int
  user:
    description: User to log in as.
    type: str
  password:
    description: Password of O(user). Never logged or returned.
    type: str
  database:
    description:
      - Database name (for SQLite, the absolute path of the database file).
    type: str
  release:
    description: Release id recorded with each applied file (for example the deploy's C(zerodown_release)).
    type: str
  table:
    description:
      - Tracking table name; C(schema.table) is accepted for PostgreSQL and MySQL.
      - Only letters, digits and C(_).
    type: str
    default: zerodown_migrations
  lock_timeout:
    description:
      - Seconds a statement may wait for a lock before giving up (PostgreSQL C(lock_timeout), MySQL
        C(lock_wait_timeout), SQLite exclusive lock wait).
    type: float
    default: 5
  statement_timeout:
    description:
      - Seconds a single statement may run (PostgreSQL C(statement_timeout), MariaDB C(max_statement_time),
        SQLite progress handler). C(0) means no limit.
    type: float
    default: 0
  lock_retries:
    description: How many times a file is retried after a lock timeout before the module fails.
    type: int
    default: 3
  lock_retry_delay:
    description: Seconds to wait between lock-timeout retries.
    type: float
    default: 5
  runner_lock_timeout:
    description:
      - Seconds to wait for another migration runner on the same database (and tracking table) to finish.
      - Not used for SQLite, where the per-file exclusive lock and O(lock_timeout) apply.
    type: float
    default: 300
  connect_timeout:
    description: Seconds to wait for the connection to the database server.
    type: float
    default: 10
  contract:
    description:
      - Apply only contract migrations (drops, the second half of renames). Run it only when no host runs an
        older release any more; C(playbooks/contract.yml) checks that for you.
    type: bool
    default: false
  applied_by:
    description: Recorded in the tracking table; defaults to C(user@host) of the process running the module.
    type: str
  expect_pending:
    description:
      - The migration ids (file names) that must be pending, in order, for the module to apply anything, that is the list
        a compatibility check judged (the role P(zerodown.deploy.migrate#role) passes what its check found, so that a
        deploy applies exactly what was checked).
      - When the pending list found when the run starts (under the runner lock) differs, because a file was
        added or removed since, or another runner applied one meanwhile, the module fails naming both lists and
        applies nothing. Also checked in check mode.
      - An empty list expects nothing to be pending. Not given (the default), whatever is pending is applied.
    type: list
    elements: str
    version_added: 0.2.0
requirements:
  - psycopg 3 (Python package C(psycopg)) for PostgreSQL
  - PyMySQL for MySQL and MariaDB
  - sqlite3 from the Python standard library for SQLite
notes:
  - Run it once per deploy (C(run_once)) on a host that can reach the database; the role
    P(zerodown.deploy.migrate#role) does that after M(zerodown.deploy.migration_check) found the files compatible.
seealso:
  - module: zerodown.deploy.migration_check
"""

EXAMPLES = r"""
- name: Apply the additive migrations of this release
  zerodown.deploy.migration_apply:
    path: /opt/shop/releases/{{ zerodown_release }}/migrations
    dsn: postgresql://shop@db1.internal:5432/shop
    password: "{{ vault_shop_db_password }}"
    release: "{{ zerodown_release }}"
    lock_timeout: 3
    statement_timeout: 60
  run_once: true
  delegate_to: "{{ groups['db'][0] }}"

- name: What would run (no change, no tracking table created)
  zerodown.deploy.migration_apply:
    path: migrations/
    dialect: mysql
    host: 127.0.0.1
    user: root
    database: shop
  check_mode: true
  register: plan

- name: SQLite
  zerodown.deploy.migration_apply:
    path: /opt/app/current/migrations
    dsn: sqlite:////var/lib/app/app.db

- name: Contract migrations, after every host runs the new release
  zerodown.deploy.migration_apply:
    path: /opt/shop/releases/{{ zerodown_release }}/migrations
    dsn: postgresql://shop@db1.internal/shop
    password: "{{ vault_shop_db_password }}"
    release: "{{ zerodown_release }}"
    contract: true
"""

RETURN = r"""
applied:
  description: Migration ids (file names) applied by this run, in order.
  returned: always
  type: list
  elements: str
  sample: [0003_add_email.sql]
pending:
  description:
    - Migration ids that were pending when the run started (in check mode, those that would be applied).
    - Contract files are only listed with O(contract=true).
  returned: always
  type: list
  elements: str
  sample: [0003_add_email.sql]
skipped_contract:
  description: Pending contract migrations left for C(contract.yml).
  returned: always
  type: list
  elements: str
  sample: [0004_drop_old_email.contract.sql]
non_transactional:
  description:
    - Applied ids that did not run as one transaction (MySQL/MariaDB DDL, files marked no-transaction); on
      failure, whether the failing file is one of them is in RV(transactional).
  returned: always
  type: list
  elements: str
  sample: [0003_add_email.sql]
files:
  description: Per applied file details.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: File name.
      type: str
    checksum:
      description: SHA-256 of the file.
      type: str
    statements:
      description: Number of statements run.
      type: int
    duration_ms:
      description: Time spent on the file, retries included.
      type: int
    transactional:
      description: Whether the file ran as one transaction.
      type: bool
    reason:
      description: Why it did not (null when it did).
      type: str
    attempts:
      description: Attempts needed (more than 1 after lock timeouts).
      type: int
tracking_table:
  description: Name of the tracking table.
  returned: always
  type: str
  sample: zerodown_migrations
database:
  description: The database, without password.
  returned: always
  type: str
  sample: postgresql://shop@db1.internal:5432/shop
failed_file:
  description: The file that failed.
  returned: failure while applying
  type: str
failed_statement:
  description: The statement that failed, its line in the file and the database error.
  returned: failure while applying
  type: dict
statements_run:
  description:
    - Statements of RV(failed_file) that ran and stay applied (only for non-transactional files; empty for
      transactional files, which are rolled back).
  returned: failure while applying
  type: list
  elements: dict
transactional:
  description: Whether RV(failed_file) was run as one transaction (and so is fully rolled back).
  returned: failure while applying
  type: bool
"""

from ansible_collections.zerodown.deploy.plugins.module_utils._migrate import connection_secrets, run  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils._module import run_module  # noqa: E402


def main():
    argument_spec = dict(
        path=dict(type="path", required=True),
        dialect=dict(type="str", choices=["postgresql", "mysql", "sqlite"]),
        dsn=dict(type="str", no_log=True),
        host=dict(type="str"),
        port=dict(type="int"),
        user=dict(type="str"),
        password=dict(type="str", no_log=True),
        database=dict(type="str"),
        release=dict(type="str"),
        table=dict(type="str", default="zerodown_migrations"),
        lock_timeout=dict(type="float", default=5),
        statement_timeout=dict(type="float", default=0),
        lock_retries=dict(type="int", default=3),
        lock_retry_delay=dict(type="float", default=5),
        runner_lock_timeout=dict(type="float", default=300),
        connect_timeout=dict(type="float", default=10),
        contract=dict(type="bool", default=False),
        applied_by=dict(type="str"),
        expect_pending=dict(type="list", elements="str"),
    )
    run_module(argument_spec, run, secrets=connection_secrets, required_one_of=[("dsn", "dialect")])


if __name__ == "__main__":
    main()
