# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: apply migration files safely.

``Migrator`` applies the pending files found by ``_migrations.discover``, in
that order, and records each in a tracking table. Why each rule exists:

* one runner at a time: two deploys racing would run a file twice
  (PostgreSQL ``pg_try_advisory_lock``, MySQL/MariaDB ``GET_LOCK`` held for
  the whole run; SQLite ``BEGIN EXCLUSIVE`` per file, re-checking the
  tracking table inside it, so each file still runs exactly once);
* every file in its own transaction together with its tracking row, where
  the dialect allows it: PostgreSQL and SQLite always (except files marked
  ``-- +goose NO TRANSACTION`` / ``-- zerodown:no-transaction``); MySQL
  commits DDL implicitly, so a file with DDL is *non-transactional*: it is
  reported as such and a failure names exactly which statements ran;
* PostgreSQL ``lock_timeout``: an ``ALTER TABLE`` queued behind a long
  transaction blocks every later query on that table, so it gives up after
  ``lock_timeout`` and the file is retried ``lock_retries`` times;
  ``statement_timeout`` bounds the whole statement;
* an applied file whose checksum changed is an error before anything runs;
* check mode opens a read-only session and never creates the tracking table;
* ``expect_pending``: a deploy applies exactly the files its compatibility
  check judged; when the pending list found under the runner lock differs
  (a file added, or applied by someone else meanwhile), nothing is applied.
"""

from __future__ import annotations

import datetime
import getpass
import math
import os
import re
import socket
import time
import traceback
from typing import Any, Dict, List, Optional, Tuple

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._db import (
    DRIVER_PACKAGES,
    ConnectionSpec,
    DatabaseError,
    LockTimeout,
    acquire_runner_lock,
    begin_exclusive,
    build_spec,
    connect,
    driver_missing,
    redact,
    release_runner_lock,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._migrations import (
    MigrationError,
    MigrationFile,
    discover,
    find_duplicate_versions,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import secrets_in
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.lexer import SplitError, Statement, split_statements
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import Clock

# MySQL statements that commit the open transaction implicitly.
_MYSQL_IMPLICIT_COMMIT = {
    "ALTER",
    "CREATE",
    "DROP",
    "RENAME",
    "TRUNCATE",
    "GRANT",
    "REVOKE",
    "LOCK",
    "UNLOCK",
    "ANALYZE",
    "OPTIMIZE",
    "REPAIR",
    "INSTALL",
    "UNINSTALL",
    "FLUSH",
    "RESET",
    "BEGIN",
    "START",
    "COMMIT",
}
# PostgreSQL statements that refuse to run inside a transaction block.
_PG_NO_TX_RE = re.compile(
    r"^\s*(?:(?:CREATE|DROP)\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY|REINDEX\b.*\bCONCURRENTLY|VACUUM\b"
    r"|CREATE\s+DATABASE\b|DROP\s+DATABASE\b|ALTER\s+SYSTEM\b|CREATE\s+TABLESPACE\b)",
    re.IGNORECASE | re.DOTALL,
)
_PG_LOCK_TIMEOUT = "55P03"
_PG_QUERY_CANCELED = "57014"
_MYSQL_LOCK_WAIT = (1205,)
_MYSQL_STATEMENT_TIMEOUT = (1969, 3024)


class MigrateError(Exception):
    """A run that stopped; ``details`` says how far it got (for the module result)."""

    def __init__(self, message: str, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.details = details or {}


class StatementFailed(Exception):
    """One statement failed; carries the driver error classified for retries."""

    def __init__(self, statement: Statement, message: str, lock_timeout: bool, statement_timeout: bool) -> None:
        super().__init__(message)
        self.statement = statement
        self.message = message
        self.lock_timeout = lock_timeout
        self.statement_timeout = statement_timeout


def validate_table_name(table: str, dialect: str) -> List[str]:
    """The parts of a tracking table name (``schema.table`` for PostgreSQL/MySQL); raises ValueError."""
    parts = table.split(".") if isinstance(table, str) and table else []
    if (
        not parts
        or len(parts) > (1 if dialect == "sqlite" else 2)
        or not all(validate.is_name(p, "sql_identifier") for p in parts)
    ):
        raise ValueError(
            "table %r is not a valid tracking table name: use letters, digits and _ (at most 63), "
            "optionally schema.table for PostgreSQL/MySQL" % (table,)
        )
    return parts


def file_statements(migration: MigrationFile, dialect: str) -> List[Statement]:
    """The statements migration_apply runs for a file, in order (the same cut migration_check judges)."""
    try:
        return split_statements(migration.up_sql, dialect)
    except SplitError as exc:
        raise MigrateError("%s: %s. Nothing was applied." % (migration.path, exc)) from None


class Migrator:
    """Applies migration files over one open autocommit DB-API connection."""

    def __init__(
        self,
        conn: Any,
        dialect: str,
        table: str = "zerodown_migrations",
        release: Optional[str] = None,
        applied_by: Optional[str] = None,
        lock_timeout: float = 5,
        statement_timeout: float = 0,
        lock_retries: int = 3,
        lock_retry_delay: float = 5,
        runner_lock_timeout: float = 300,
        secrets: Optional[List[str]] = None,
        clock: Optional[Clock] = None,
    ) -> None:
        self.conn = conn
        self.dialect = dialect
        self.table_parts = validate_table_name(table, dialect)
        self.table_name = table
        self.release = release
        self.applied_by = applied_by
        self.lock_timeout = lock_timeout
        self.statement_timeout = statement_timeout
        self.lock_retries = lock_retries
        self.lock_retry_delay = lock_retry_delay
        self.runner_lock_timeout = runner_lock_timeout
        self.secrets = secrets or []
        self.clock = clock or Clock()
        self.is_mariadb = False
        self.result = {}  # type: Dict[str, Any]
        self._param = "?" if dialect == "sqlite" else "%s"
        self.table = ".".join(self.quote(p) for p in self.table_parts)

    # --- SQL helpers -------------------------------------------------------

    def quote(self, ident: str) -> str:
        return "`%s`" % ident if self.dialect == "mysql" else '"%s"' % ident

    def _execute(self, sql: str, params: Optional[tuple] = None) -> List[tuple]:
        cur = self.conn.cursor()
        try:
            if params is None:
                cur.execute(sql)
            else:
                cur.execute(sql, params)
            try:
                return list(cur.fetchall()) if cur.description else []
            except Exception:  # noqa: BLE001 - drivers differ on fetch after DDL
                return []
        finally:
            cur.close()

    def _error_text(self, exc: Exception) -> str:
        args = getattr(exc, "args", ())
        if self.dialect == "mysql" and len(args) >= 2:
            return redact("(%s) %s" % (args[0], args[1]), self.secrets)
        return redact(str(exc).strip(), self.secrets)

    def _classify(self, exc: Exception) -> tuple:
        if self.dialect == "postgresql":
            state = getattr(exc, "sqlstate", None)
            message = str(exc)
            return state == _PG_LOCK_TIMEOUT, state == _PG_QUERY_CANCELED and "statement timeout" in message
        if self.dialect == "mysql":
            code = exc.args[0] if getattr(exc, "args", None) else None
            return code in _MYSQL_LOCK_WAIT, code in _MYSQL_STATEMENT_TIMEOUT
        text = str(exc)
        return ("locked" in text or "busy" in text), "interrupted" in text

    # --- tracking table ------------------------------------------------------

    def tracking_table_exists(self) -> bool:
        if self.dialect == "postgresql":
            rows = self._execute("SELECT to_regclass(%s)", (self.table,))
            return bool(rows and rows[0][0])
        if self.dialect == "mysql":
            if len(self.table_parts) == 2:
                sql = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s"
                params = tuple(self.table_parts)
            else:
                sql = (
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s"
                )
                params = (self.table_parts[0],)
            return bool(self._execute(sql, params)[0][0])
        rows = self._execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (self.table_parts[0],))
        return bool(rows)

    def create_tracking_table(self) -> None:
        q = self.quote
        if self.dialect == "postgresql":
            types = ("varchar(255)", "char(64)", "timestamptz", "varchar(255)", "bigint", "varchar(255)")
        elif self.dialect == "mysql":
            types = ("varchar(255)", "char(64)", "datetime(6)", "varchar(255)", "bigint", "varchar(255)")
        else:
            types = ("text", "text", "text", "text", "integer", "text")
        columns = ("id", "checksum", "applied_at", "release", "duration_ms", "applied_by")
        nullable = ("NOT NULL", "NOT NULL", "NOT NULL", "NULL", "NOT NULL", "NULL")
        body = ", ".join("%s %s %s" % (q(c), t, nn) for c, t, nn in zip(columns, types, nullable))
        self._execute("CREATE TABLE IF NOT EXISTS %s (%s, PRIMARY KEY (%s))" % (self.table, body, q("id")))

    def read_applied(self) -> Dict[str, Dict[str, Any]]:
        """Applied migrations by id: checksum, applied_at, release."""
        q = self.quote
        wanted = ("id", "checksum", "applied_at", "release", "duration_ms", "applied_by")
        try:
            # Column names from the table itself: SQLite would read an unknown "id" as the string 'id'.
            cur = self.conn.cursor()
            try:
                cur.execute("SELECT * FROM %s WHERE 1 = 0" % self.table)  # noqa: S608 - validated identifier
                have = {d[0].lower() for d in cur.description or ()}
                cur.fetchall()
            finally:
                cur.close()
            missing = [c for c in wanted if c not in have]
            if missing:
                raise MigrateError("it has no column %s" % ", ".join(missing))
            rows = self._execute(
                "SELECT %s, %s, %s, %s FROM %s" % (q("id"), q("checksum"), q("applied_at"), q("release"), self.table)  # noqa: S608 - validated identifier
            )
        except Exception as exc:  # noqa: BLE001 - any driver error here means "not our table"
            self._rollback_quietly()
            raise MigrateError(
                "table %s exists but is not a zerodown tracking table (%s): set table to another name"
                % (self.table_name, self._error_text(exc))
            ) from None
        return {r[0]: {"checksum": r[1], "applied_at": str(r[2]), "release": r[3]} for r in rows}

    def _record(self, migration: MigrationFile, duration_ms: int) -> None:
        now = datetime.datetime.now(datetime.timezone.utc)
        if self.dialect == "mysql":
            applied_at = now.replace(tzinfo=None)  # type: Any
        elif self.dialect == "sqlite":
            applied_at = now.isoformat()
        else:
            applied_at = now
        q, p = self.quote, self._param
        columns = ("id", "checksum", "applied_at", "release", "duration_ms", "applied_by")
        self._execute(
            "INSERT INTO %s (%s) VALUES (%s)" % (self.table, ", ".join(q(c) for c in columns), ", ".join([p] * 6)),  # noqa: S608
            (migration.id, migration.checksum, applied_at, self.release, duration_ms, self.applied_by),
        )

    def _rollback_quietly(self) -> None:
        try:
            self._execute("ROLLBACK")
        except Exception:  # noqa: BLE001, S110 - nothing to roll back is fine
            pass

    # --- planning ------------------------------------------------------------

    @staticmethod
    def check_drift(files: List[MigrationFile], applied: Dict[str, Dict[str, Any]]) -> None:
        drifted = [f for f in files if f.id in applied and applied[f.id]["checksum"] != f.checksum]
        if drifted:
            raise MigrateError(
                "; ".join(
                    "%s was applied (release %s, %s) with checksum %s but the file now has %s"
                    % (
                        f.path,
                        applied[f.id]["release"],
                        applied[f.id]["applied_at"],
                        applied[f.id]["checksum"][:12],
                        f.checksum[:12],
                    )
                    for f in drifted
                )
                + ": a migration that ran must never change; restore the file and put the change in a new migration."
                " Nothing was applied.",
                {"drifted": [f.id for f in drifted]},
            )

    @staticmethod
    def check_expected(pending: List[MigrationFile], expected: Optional[List[str]]) -> None:
        """Raise unless the pending ids are ``expected`` (None: no expectation), in that order."""
        found = [f.id for f in pending]
        if expected is None or found == list(expected):
            return
        raise MigrateError(
            "the pending migrations are now [%s], not the [%s] that were checked (expect_pending): the migration "
            "files or the database changed since the compatibility check. Nothing was applied; run the deploy "
            "again to check what is pending now." % (", ".join(found), ", ".join(expected)),
            {"pending": found, "expect_pending": list(expected)},
        )

    def plan(
        self,
        files: List[MigrationFile],
        applied: Dict[str, Dict[str, Any]],
        contract: bool = False,
        expect_pending: Optional[List[str]] = None,
    ) -> Tuple[List[MigrationFile], List[str]]:
        """(pending files to run now, pending contract ids left for contract.yml).

        Validates everything first (checksums, splitting, statements that
        cannot run in a transaction, the ``expect_pending`` list) so that
        nothing starts that cannot finish. With ``contract`` only contract
        files run, and only once every expand file ordered before them has
        been applied.
        """
        self.check_drift(files, applied)
        pending_all = [f for f in files if f.id not in applied]
        if contract:
            pending = [f for f in pending_all if f.contract]
            self.check_contract_order(pending_all, pending)
            skipped = []  # type: List[str]
        else:
            pending = [f for f in pending_all if not f.contract]
            skipped = [f.id for f in pending_all if f.contract]
        self.check_expected(pending, expect_pending)
        for f in pending:
            self.check_transaction(f, self.statements(f))
        return pending, skipped

    @staticmethod
    def check_contract_order(pending_all: List[MigrationFile], contract: List[MigrationFile]) -> None:
        """Raise unless every expand file ordered before the last pending ``contract`` file is applied."""
        if not contract:
            return
        last = contract[-1].version
        blocking = [f.id for f in pending_all if not f.contract and f.version < last]
        if blocking:
            raise MigrateError(
                "contract migrations wait for the expand migrations ordered before them, and %s %s not "
                "applied yet: deploy the release first (role zerodown.deploy.migrate), then contract. "
                "Nothing was applied." % (", ".join(blocking), "is" if len(blocking) == 1 else "are"),
                {"blocking": blocking},
            )

    def check_transaction(self, migration: MigrationFile, statements: List[Statement]) -> None:
        """Raise if a PostgreSQL file that runs in a transaction holds a statement that cannot run inside one."""
        if self.dialect != "postgresql" or migration.no_transaction:
            return
        for stmt in statements:
            if _PG_NO_TX_RE.match(stmt.text):
                raise MigrateError(
                    "%s line %d: %s cannot run inside a transaction: mark the file with a "
                    "'-- +goose NO TRANSACTION' (or '-- zerodown:no-transaction') line and keep such "
                    "statements in a file of their own. Nothing was applied."
                    % (migration.path, stmt.line, stmt.summary(80))
                )

    def statements(self, migration: MigrationFile) -> List[Statement]:
        return file_statements(migration, self.dialect)

    def non_transactional_reason(self, migration: MigrationFile) -> Optional[str]:
        """Why a file cannot run as one transaction, or None when it can."""
        if migration.no_transaction:
            return "marked no-transaction: statements run one by one outside a transaction"
        if self.dialect == "mysql":
            for stmt in self.statements(migration):
                words = stmt.first_words(2)
                if words and words[0] in _MYSQL_IMPLICIT_COMMIT and words[1:2] != ["TEMPORARY"]:
                    return (
                        "MySQL commits DDL implicitly (line %d: %s): a failure mid-file leaves the statements "
                        "before it applied" % (stmt.line, stmt.summary(60))
                    )
        return None

    # --- running -------------------------------------------------------------

    def inspect(self) -> Dict[str, Dict[str, Any]]:
        """Read-only: applied rows (empty when the tracking table does not exist yet)."""
        if not self.tracking_table_exists():
            return {}
        return self.read_applied()

    def apply(
        self, files: List[MigrationFile], contract: bool = False, expect_pending: Optional[List[str]] = None
    ) -> Dict[str, Any]:
        """Apply the pending ``files`` in order (only when they are ``expect_pending``, if given). Returns applied
        ids, per-file details."""
        result = {
            "applied": [],
            "pending": [],
            "skipped_contract": [],
            "non_transactional": [],
            "files": [],
        }  # type: Dict[str, Any]
        self.result = result  # how far a run got, also when it raises
        if self.dialect == "mysql":
            version = self._execute("SELECT VERSION()")[0][0]
            self.is_mariadb = "mariadb" in str(version).lower()
        if self.dialect == "sqlite":
            return self._apply_sqlite(files, result, contract, expect_pending)
        acquire_runner_lock(self.conn, self.dialect, self.table_name, self.runner_lock_timeout, self.clock)
        try:
            # Validate everything before the first change, the tracking table included.
            pending, result["skipped_contract"] = self.plan(files, self.inspect(), contract, expect_pending)
            if pending:
                self.create_tracking_table()
            result["pending"] = [f.id for f in pending]
            for migration in pending:
                self._apply_one(migration, result)
        finally:
            try:
                release_runner_lock(self.conn, self.dialect, self.table_name)
            except Exception:  # noqa: BLE001, S110 - the session end releases it anyway
                pass
        return result

    def _apply_sqlite(
        self, files: List[MigrationFile], result: Dict[str, Any], contract: bool, expect_pending: Optional[List[str]]
    ) -> Dict[str, Any]:
        self._sqlite_lock()
        try:
            pending, result["skipped_contract"] = self.plan(files, self.inspect(), contract, expect_pending)
            if pending:
                self.create_tracking_table()
        except BaseException:
            self._rollback_quietly()
            raise
        self._execute("COMMIT")
        result["pending"] = [f.id for f in pending]
        for migration in pending:
            self._apply_one(migration, result)
        return result

    def _sqlite_lock(self) -> None:
        """BEGIN EXCLUSIVE with the lock-timeout retry policy."""
        for attempt in range(self.lock_retries + 1):
            try:
                begin_exclusive(self.conn, self.lock_timeout, self.clock)
                return
            except LockTimeout as exc:
                if attempt >= self.lock_retries:
                    raise LockTimeout(
                        "%s (%d attempts of lock_timeout %ss, %ss apart): find the long transaction holding the "
                        "SQLite database, or raise lock_timeout / lock_retries. Nothing more was applied."
                        % (exc, attempt + 1, self.lock_timeout, self.lock_retry_delay)
                    ) from None
                self.clock.sleep(self.lock_retry_delay)

    def _apply_one(self, migration: MigrationFile, result: Dict[str, Any]) -> None:
        statements = self.statements(migration)
        reason = self.non_transactional_reason(migration)
        transactional = reason is None
        attempts = 0
        done = []  # type: List[Statement]
        started = time.monotonic()
        while True:
            attempts += 1
            try:
                if transactional:
                    self._run_transactional(migration, statements)
                else:
                    self._run_statements(statements, done)
                    if self.dialect == "sqlite":
                        self._sqlite_lock()
                        try:
                            if self.read_applied().get(migration.id):
                                raise MigrateError("%s was recorded by another runner meanwhile" % migration.id)
                            self._record(migration, int((time.monotonic() - started) * 1000))
                        except BaseException:
                            self._rollback_quietly()
                            raise
                        self._execute("COMMIT")
                    else:
                        self._record(migration, int((time.monotonic() - started) * 1000))
                break
            except _AlreadyApplied:
                return
            except StatementFailed as exc:
                if exc.lock_timeout and attempts <= self.lock_retries:
                    self.clock.sleep(self.lock_retry_delay)
                    continue
                raise self._failure(migration, statements, done, exc, transactional, reason, attempts) from None
        duration = int((time.monotonic() - started) * 1000)
        result["applied"].append(migration.id)
        if not transactional:
            result["non_transactional"].append(migration.id)
        result["files"].append(
            {
                "id": migration.id,
                "checksum": migration.checksum,
                "statements": len(statements),
                "duration_ms": duration,
                "transactional": transactional,
                "reason": reason,
                "attempts": attempts,
            }
        )

    def _failure(
        self,
        migration: MigrationFile,
        statements: List[Statement],
        done: List[Statement],
        exc: StatementFailed,
        transactional: bool,
        reason: Optional[str],
        attempts: int,
    ) -> MigrateError:
        stmt = exc.statement
        where = "%s line %d" % (migration.path, stmt.line)
        if exc.lock_timeout:
            what = (
                "could not get a lock within lock_timeout %ss (%d attempts, %ss apart): another session holds a "
                "conflicting lock on the table, usually a long-running transaction; find it (PostgreSQL: "
                "pg_stat_activity / pg_locks, MySQL: SHOW PROCESSLIST) and end it, or retry later"
                % (self.lock_timeout, attempts, self.lock_retry_delay)
            )
        elif exc.statement_timeout:
            what = (
                "the statement ran longer than statement_timeout %ss: make it cheaper (batches, CONCURRENTLY, "
                "NOT VALID) or raise statement_timeout" % self.statement_timeout
            )
        else:
            what = "the statement failed: fix the migration file"
        if transactional:
            state = "Nothing of %s was applied (its transaction was rolled back) and it is not recorded." % migration.id
            ran = []  # type: List[Statement]
        else:
            ran = list(done)
            state = (
                "%s is NOT transactional (%s): %d of its %d statements ran and stay applied%s; it is not recorded, "
                "so finish or undo the rest by hand before the next run, which would start the file from the top."
                % (
                    migration.id,
                    reason,
                    len(ran),
                    len(statements),
                    (" (lines %s)" % ", ".join(str(s.line) for s in ran)) if ran else "",
                )
            )
        message = "%s: %s: %s. %s" % (where, exc.message, what, state)
        return MigrateError(
            message,
            {
                "failed_file": migration.id,
                "failed_statement": {"line": stmt.line, "statement": stmt.summary(500), "error": exc.message},
                "statements_run": [{"line": s.line, "statement": s.summary(500)} for s in ran],
                "transactional": transactional,
                "lock_timeout_hit": exc.lock_timeout,
            },
        )

    def _session_timeouts(self, local: bool) -> None:
        """Per-dialect lock / statement timeouts for the statements that follow."""
        if self.dialect == "postgresql":
            scope = "LOCAL" if local else "SESSION"
            self._execute("SET %s lock_timeout = %d" % (scope, max(1, int(self.lock_timeout * 1000))))
            self._execute("SET %s statement_timeout = %d" % (scope, int(self.statement_timeout * 1000)))
        elif self.dialect == "mysql":
            seconds = max(1, int(math.ceil(self.lock_timeout)))
            self._execute("SET SESSION lock_wait_timeout = %d" % seconds)
            self._execute("SET SESSION innodb_lock_wait_timeout = %d" % seconds)
            if self.is_mariadb:
                self._execute("SET SESSION max_statement_time = %f" % float(self.statement_timeout))
            else:
                self._execute("SET SESSION max_execution_time = %d" % int(self.statement_timeout * 1000))

    def _run_transactional(self, migration: MigrationFile, statements: List[Statement]) -> None:
        started = time.monotonic()
        if self.dialect == "sqlite":
            self._sqlite_lock()
            if self.read_applied().get(migration.id):
                self._execute("COMMIT")  # another runner applied it while we waited
                raise _AlreadyApplied()
        else:
            if self.dialect == "mysql":
                self._session_timeouts(local=False)
                self._execute("START TRANSACTION")
            else:
                self._execute("BEGIN")
                self._session_timeouts(local=True)
        try:
            self._run_statements(statements, [], set_timeouts=False)
            self._record(migration, int((time.monotonic() - started) * 1000))
            self._execute("COMMIT")
        except BaseException:
            self._rollback_quietly()
            raise

    def _run_statements(self, statements: List[Statement], done: List[Statement], set_timeouts: bool = True) -> None:
        """Run ``statements`` after those already in ``done``, appending each that succeeds."""
        if set_timeouts:
            self._session_timeouts(local=False)
        deadline = None
        if self.dialect == "sqlite" and self.statement_timeout:
            deadline = time.monotonic() + self.statement_timeout
            self.conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10000)
        try:
            for stmt in statements[len(done) :]:
                try:
                    self._execute(stmt.text)
                except Exception as exc:  # noqa: BLE001 - every driver error becomes a report
                    lock, timeout = self._classify(exc)
                    raise StatementFailed(stmt, self._error_text(exc), lock, timeout) from None
                done.append(stmt)
        finally:
            if deadline is not None:
                self.conn.set_progress_handler(None, 0)


class _AlreadyApplied(Exception):
    """A concurrent SQLite runner applied the file while this one waited for the lock."""


# --- the migration_apply module's engine (docs/architecture.md, "Modules and engines") -------------------------

#: migration_apply's numeric options and their bounds.
NUMBERS = {
    "lock_timeout": validate.TIMEOUT,
    "statement_timeout": validate.WAIT,
    "lock_retries": validate.RETRIES,
    "lock_retry_delay": validate.WAIT,
    "runner_lock_timeout": validate.WAIT,
    "connect_timeout": validate.TIMEOUT,
    "port": validate.PORT,
}


def run(params: Dict[str, Any], check_mode: bool) -> Dict[str, Any]:
    """The migration_apply module: apply the pending migration files (in check mode, report them); raises
    ModuleFailure with what was applied before a failure."""
    return _ApplyRun(params, check_mode).run()


def connection_secrets(params: Dict[str, Any]) -> List[str]:
    """The password of the connection the options describe, the DSN's own however it is written (for run_module's
    ``secrets``: masked in the invocation and every message); none when they describe no connection."""
    try:
        return _connection_spec(params).secrets()
    except DatabaseError:
        return []


def _connection_spec(params: Dict[str, Any]) -> ConnectionSpec:
    return build_spec(
        params["dialect"],
        dsn=params["dsn"],
        host=params["host"],
        port=params["port"],
        user=params["user"],
        password=params["password"],
        database=params["database"],
    )


def _applied_by() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        user = "unknown"
    return "%s@%s" % (user, socket.gethostname())


def _sqlite_file_missing(spec: ConnectionSpec) -> bool:
    return spec.dialect == "sqlite" and spec.path != ":memory:" and not os.path.exists(spec.path)


def _lines(ids: List[str]) -> str:
    return "".join("%s\n" % i for i in ids)


class _ApplyRun:
    """One migration_apply call: the options checked, the files found, then the migrations planned (check mode) or
    applied; ``result`` is what a failure reports too, and every message is scrubbed of ``secrets``."""

    def __init__(self, params: Dict[str, Any], check_mode: bool) -> None:
        self.params = params
        self.check_mode = check_mode
        # The password, and the DSN's own however broken the DSN is: masked in every message.
        self.secrets = ([params["password"]] if params["password"] else []) + secrets_in(params)
        self.result = dict(
            changed=False,
            applied=[],
            pending=[],
            skipped_contract=[],
            non_transactional=[],
            files=[],
            tracking_table=params["table"],
            database="",
        )  # type: Dict[str, Any]

    def failure(self, msg: str, **extra: Any) -> ModuleFailure:
        self.result.update(extra)
        return ModuleFailure(redact(msg, self.secrets), self.result)

    def run(self) -> Dict[str, Any]:
        spec = self.connection()
        files = self.files()
        conn = None
        try:
            if self.check_mode and _sqlite_file_missing(spec):
                # nothing to connect to, so nothing applied yet: every file is pending
                migrator = Migrator(None, spec.dialect, table=self.params["table"], release=self.params["release"])
                return self.planned(migrator, files, {})
            conn = connect(spec, connect_timeout=self.params["connect_timeout"], read_only=self.check_mode)
            migrator = self.migrator(conn, spec)
            if self.check_mode:
                return self.planned(migrator, files, migrator.inspect())
            return self.applied(migrator, files, spec)
        except ModuleFailure:
            raise
        except (MigrateError, DatabaseError) as exc:
            raise self.failure(str(exc), **getattr(exc, "details", {})) from exc
        except Exception as exc:  # noqa: BLE001 - a driver surprise must still be a clean, scrubbed failure
            raise ModuleFailure(
                redact("unexpected error while applying migrations: %s" % exc, self.secrets),
                self.result,
                exception=redact(traceback.format_exc(), self.secrets),
            ) from exc
        finally:
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001, S110 - closing a broken connection
                    pass

    def connection(self) -> ConnectionSpec:
        """The checked options as a connection spec, with the tracking table's name and the driver checked."""
        try:
            validate.numbers(self.params, NUMBERS)
        except validate.ValidationError as exc:
            raise self.failure(str(exc)) from exc
        try:
            spec = _connection_spec(self.params)
        except DatabaseError as exc:
            raise self.failure(str(exc)) from exc
        self.secrets.extend(spec.secrets())
        self.result["database"] = spec.describe()
        try:
            validate_table_name(self.params["table"], spec.dialect)
        except ValueError as exc:
            raise self.failure(str(exc)) from exc
        missing = driver_missing(spec.dialect)
        if missing:
            raise ModuleFailure(missing_required_lib(DRIVER_PACKAGES[spec.dialect]), self.result, exception=missing)
        return spec

    def files(self) -> List[MigrationFile]:
        try:
            files = discover(self.params["path"])
        except MigrationError as exc:
            raise self.failure(str(exc)) from exc
        duplicate = find_duplicate_versions(files)
        if duplicate:
            raise self.failure(duplicate)
        return files

    def migrator(self, conn: Any, spec: ConnectionSpec) -> Migrator:
        p = self.params
        return Migrator(
            conn,
            spec.dialect,
            table=p["table"],
            release=p["release"],
            applied_by=p["applied_by"] or _applied_by(),
            lock_timeout=p["lock_timeout"],
            statement_timeout=p["statement_timeout"],
            lock_retries=p["lock_retries"],
            lock_retry_delay=p["lock_retry_delay"],
            runner_lock_timeout=p["runner_lock_timeout"],
            secrets=self.secrets,
        )

    def planned(self, migrator: Migrator, files: List[MigrationFile], applied: Dict[str, Any]) -> Dict[str, Any]:
        """Check mode: what would be applied, and the tracking table's ids before and after, as the diff."""
        pending, skipped = migrator.plan(files, applied, self.params["contract"], self.params["expect_pending"])
        before = sorted(applied)
        result = self.result
        result["pending"] = [f.id for f in pending]
        result["skipped_contract"] = skipped
        result["changed"] = bool(pending)
        result["diff"] = dict(before=_lines(before), after=_lines(before + result["pending"]))
        return result

    def applied(self, migrator: Migrator, files: List[MigrationFile], spec: ConnectionSpec) -> Dict[str, Any]:
        """Apply the pending files; the result names what ran, also when a file fails."""
        result = self.result
        try:
            done = migrator.apply(files, contract=self.params["contract"], expect_pending=self.params["expect_pending"])
        except (MigrateError, DatabaseError) as exc:
            result.update(migrator.result)
            result["changed"] = bool(result["applied"])
            raise self.failure(str(exc), **getattr(exc, "details", {})) from exc
        result.update(done)
        result["changed"] = bool(done["applied"])
        if done["non_transactional"] and spec.dialect == "mysql":
            result["warnings"] = [
                "MySQL/MariaDB committed the DDL of %s statement by statement (implicit commit): these files "
                "were not atomic" % ", ".join(done["non_transactional"])
            ]
        before = sorted(set(migrator.inspect()) - set(done["applied"]))
        result["diff"] = dict(before=_lines(before), after=_lines(before + done["applied"]))
        return result


__all__ = ["DatabaseError", "MigrateError", "Migrator", "validate_table_name"]
