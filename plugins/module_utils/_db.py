# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the one place for database connections.

* ``ConnectionSpec``: where a database is (dialect, host, port, user, password,
  database or SQLite path, driver options);
* ``parse_dsn`` / ``build_spec``: libpq and SQLAlchemy-style URLs
  (``postgresql://``, ``postgres://``, ``postgresql+psycopg://``,
  ``mysql://``, ``mysql+pymysql://``, ``mariadb://``, ``sqlite:///path``),
  libpq ``key=value`` strings and plain SQLite file paths, merged with
  separately given host/port/user/password/database;
* ``connect``: a DB-API connection in autocommit mode (psycopg 3, PyMySQL,
  sqlite3); callers open transactions themselves with ``BEGIN``, which is the
  only way the three drivers behave the same;
* ``DatabaseError``: every failure, with a message that names what to fix
  and never contains the password (``redact``);
* runner locks: ``acquire_runner_lock`` / ``release_runner_lock``
  (``pg_try_advisory_lock`` / ``GET_LOCK``) and ``begin_exclusive`` for
  SQLite, all waiting through ``wait_until``.

Driver imports are guarded: ``HAS_PSYCOPG`` / ``HAS_PYMYSQL`` and the import
error text for ``missing_required_lib``.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import sqlite3
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import MASK, dsn_secrets, redact
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import Clock, WaitTimeout, wait_until

try:
    import psycopg

    HAS_PSYCOPG = True
    PSYCOPG_IMPORT_ERROR = None  # type: Optional[str]
except ImportError as _exc:  # pragma: no cover - depends on the target
    psycopg = None
    HAS_PSYCOPG = False
    PSYCOPG_IMPORT_ERROR = str(_exc)

try:
    import pymysql

    HAS_PYMYSQL = True
    PYMYSQL_IMPORT_ERROR = None  # type: Optional[str]
except ImportError as _exc:  # pragma: no cover - depends on the target
    pymysql = None
    HAS_PYMYSQL = False
    PYMYSQL_IMPORT_ERROR = str(_exc)

DIALECTS = ("postgresql", "mysql", "sqlite")
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
# Python package that provides each dialect's driver, for missing_required_lib().
DRIVER_PACKAGES = {"postgresql": "psycopg (psycopg 3)", "mysql": "PyMySQL", "sqlite": "sqlite3"}

_SCHEMES = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "pgsql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
    "sqlite3": "sqlite",
}
_URL_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9]*)(?:\+(?P<driver>[A-Za-z0-9_]+))?://(?P<rest>.*)$", re.DOTALL)
_KV_RE = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*=")
_KEY_RE = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
_KV_SHOWN_RE = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd)\s*=\s*).*?(?=\s+[A-Za-z_][A-Za-z0-9_]*\s*=|\Z)", re.IGNORECASE | re.DOTALL
)
# PyMySQL keyword arguments a DSN query string may set; anything else is a typo
# we report rather than a TypeError from the driver.
_PYMYSQL_OPTIONS = {
    "charset": str,
    "unix_socket": str,
    "ssl_ca": str,
    "ssl_cert": str,
    "ssl_key": str,
    "ssl_verify_cert": "bool",
    "ssl_verify_identity": "bool",
    "ssl_disabled": "bool",
    "read_timeout": int,
    "write_timeout": int,
    "init_command": str,
    "sql_mode": str,
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class DatabaseError(Exception):
    """A database could not be reached or used; the message never holds a password."""

    def __init__(self, message: str, secrets: Iterable[Optional[str]] = (), sqlstate: Optional[str] = None) -> None:
        super().__init__(redact(message, secrets))
        self.sqlstate = sqlstate


class LockTimeout(DatabaseError):
    """Another session held a lock for longer than we were allowed to wait."""


def _unquote(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)


def _shown(dsn: str) -> str:
    """A DSN as error messages show it: nothing of its password, even when the DSN is too broken to parse.

    A URL's user-info is everything up to its last '@' (a password may hold '@', ':' and, unencoded, '/');
    a key=value DSN's password runs up to the next ``key=``.
    """
    match = _URL_RE.match(dsn)
    if match:
        rest = match.group("rest")
        if "@" in rest:
            rest = MASK + "@" + rest.rpartition("@")[2]
        return redact("%s://%s" % (dsn[: match.start("rest")].split("://")[0], rest))
    return redact(_KV_SHOWN_RE.sub(lambda m: m.group("head") + MASK, dsn))


class ConnectionSpec:
    """Where a database is and how to log in. ``password`` is never part of ``str()``."""

    __slots__ = ("dialect", "host", "port", "user", "password", "database", "path", "options")

    def __init__(
        self,
        dialect: str,
        host: Optional[str] = None,
        port: Optional[int] = None,
        user: Optional[str] = None,
        password: Optional[str] = None,
        database: Optional[str] = None,
        path: Optional[str] = None,
        options: Optional[Dict[str, str]] = None,
    ) -> None:
        self.dialect = normalize_dialect(dialect)
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.path = path
        self.options = dict(options or {})

    def describe(self) -> str:
        """A password-free description for messages: ``postgresql://app@db1:5432/shop``."""
        if self.dialect == "sqlite":
            return "sqlite:%s" % (self.path,)
        user = (self.user + "@") if self.user else ""
        host = self.host or "localhost"
        if ":" in host and not host.startswith("["):
            host = "[%s]" % host
        port = ":%s" % self.port if self.port else ""
        return "%s://%s%s%s/%s" % (self.dialect, user, host, port, self.database or "")

    __str__ = describe

    def __repr__(self) -> str:
        return "ConnectionSpec(%s)" % self.describe()

    def secrets(self) -> list:
        return [self.password] if self.password else []

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConnectionSpec):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)


def normalize_dialect(dialect: Optional[str]) -> str:
    name = (dialect or "").strip().lower()
    name = _SCHEMES.get(name, name)
    if name not in DIALECTS:
        raise DatabaseError(
            "unknown database dialect %r: use one of postgresql, mysql (also for MariaDB) or sqlite" % (dialect,)
        )
    return name


def parse_dsn(dsn: str, dialect: Optional[str] = None) -> ConnectionSpec:
    """Parse a URL, a libpq ``key=value`` string, or (SQLite) a file path (see ``_parse_dsn``).

    An error never shows any part of the DSN's password, however broken the DSN is.
    """
    try:
        return _parse_dsn(dsn, dialect)
    except DatabaseError as exc:
        raise DatabaseError(str(exc), dsn_secrets(dsn), exc.sqlstate) from None


def _parse_dsn(dsn: str, dialect: Optional[str] = None) -> ConnectionSpec:
    """Parse a URL, a libpq ``key=value`` string, or (SQLite) a file path.

    ``dialect`` may be None when the URL scheme says it; when both are given
    they must agree. SQLite URLs: ``sqlite:///var/lib/app.db`` and
    ``sqlite:////var/lib/app.db`` both mean ``/var/lib/app.db`` (the module
    runs with an unpredictable working directory, so paths are absolute).
    """
    if dsn is None or not str(dsn).strip():
        raise DatabaseError("the DSN is empty: give a URL such as postgresql://user@host:5432/dbname")
    text = str(dsn).strip()
    match = _URL_RE.match(text)
    if match:
        scheme = match.group("scheme").lower()
        if scheme not in _SCHEMES:
            raise DatabaseError(
                "DSN scheme %r is not supported: use postgresql://, mysql://, mariadb:// or sqlite:///" % scheme
            )
        url_dialect = _SCHEMES[scheme]
        if dialect is not None and normalize_dialect(dialect) != url_dialect:
            raise DatabaseError(
                "the DSN %s is a %s URL but dialect is %s: make them agree"
                % (_shown(text), url_dialect, normalize_dialect(dialect))
            )
        if url_dialect == "sqlite":
            return _parse_sqlite_url(match.group("rest"))
        return _parse_server_url(url_dialect, match.group("rest"), text)
    if dialect is None:
        raise DatabaseError(
            "cannot tell the database dialect of DSN %s: set dialect (postgresql, mysql or sqlite)" % _shown(text)
        )
    name = normalize_dialect(dialect)
    if name == "sqlite":
        return ConnectionSpec("sqlite", path=text)
    if _KV_RE.match(text):
        return _parse_keyword_dsn(name, text)
    raise DatabaseError(
        "DSN %s is neither a URL (%s://user@host:port/dbname) nor a key=value string: fix the DSN"
        % (_shown(text), name)
    )


def _parse_sqlite_url(rest: str) -> ConnectionSpec:
    path, _sep, query = rest.partition("?")
    if path.startswith("/"):
        path = "/" + path.lstrip("/")
    elif path:
        # sqlite://host/... has no meaning
        raise DatabaseError(
            "SQLite URL %s has a host part: write sqlite:///absolute/path/to/file.db" % _shown("sqlite://" + rest)
        )
    path = _unquote(path)
    if not path:
        raise DatabaseError("the SQLite URL has no file path: write sqlite:///absolute/path/to/file.db")
    return ConnectionSpec("sqlite", path=path, options=_parse_query(query))


def _parse_query(query: str) -> Dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(query, keep_blank_values=True)) if query else {}


def _parse_server_url(dialect: str, rest: str, original: str) -> ConnectionSpec:
    netloc, slash, tail = rest.partition("/")
    if not slash:
        netloc, _q, query = rest.partition("?")
        path = ""
    else:
        path, _q, query = tail.partition("?")
    if "@" in path:
        # postgresql://app:pa/ss@db/shop: a '/' in the password ends the host part early
        raise DatabaseError(
            "DSN %s has an '@' after its host: percent-encode '/' as %%2F (and '?' as %%3F, '#' as %%23) in the "
            "password, or give it as password" % _shown(original)
        )
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        userinfo, hostport = "", netloc
    user, colon, password = userinfo.partition(":")
    host, port = _split_hostport(hostport, original)
    options = _parse_query(query)
    # libpq allows host/port/user/password/dbname in the query string too.
    host = options.pop("host", None) or host
    if "port" in options:
        port = _port(options.pop("port"), original)
    user = options.pop("user", None) or _unquote(user) or None
    password = options.pop("password", None) or (_unquote(password) if colon else None)
    database = options.pop("dbname", None) or options.pop("database", None) or _unquote(path) or None
    return ConnectionSpec(dialect, host, port, user, password, database, None, options)


def _split_hostport(hostport: str, original: str):
    if not hostport:
        return None, None
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise DatabaseError("DSN %s has an unclosed [ in its IPv6 host: fix the DSN" % _shown(original))
        host = hostport[1:end]
        rest = hostport[end + 1 :]
        return host, (_port(rest[1:], original) if rest.startswith(":") else None)
    if "," in hostport:
        # libpq multi-host URL (host1:5432,host2:5433): psycopg takes it as one string.
        return _unquote(hostport), None
    host, colon, port = hostport.rpartition(":")
    if not colon:
        return _unquote(hostport), None
    return _unquote(host) or None, _port(port, original)


def _port(value: str, original: str) -> Optional[int]:
    if value in ("", None):
        return None
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        # the value is not shown: in a DSN whose password holds a '/', it is a piece of the password
        raise DatabaseError("DSN %s has an invalid port: use a number from 1 to 65535" % _shown(original))
    return port


def _keyword_pairs(text: str) -> Dict[str, str]:
    """The ``key=value`` pairs of a libpq keyword DSN, keys lower-cased (a later key wins)."""
    pairs = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        key, i = _keyword_key(text, i)
        while i < n and text[i] in " \t":
            i += 1
        value, i = _quoted_value(text, i + 1) if i < n and text[i] == "'" else _bare_value(text, i)
        pairs[key.lower()] = value
    return pairs


def _keyword_key(text: str, i: int) -> Tuple[str, int]:
    """The key starting at ``i`` and the index after its '='."""
    eq = text.find("=", i)
    if eq < 0:
        # the word itself is not shown: after an unquoted password with a space, it is part of the password
        raise DatabaseError(
            "DSN %s has a word without '=': write key=value pairs, a value with spaces in single quotes" % _shown(text)
        )
    key = text[i:eq].strip()
    if not _KEY_RE.match(key):
        # not shown: after an unquoted password with a space, the 'key' is the rest of the password
        raise DatabaseError(
            "DSN %s has a word without '=' or a key that is not a name: write key=value pairs, a value with "
            "spaces in single quotes" % _shown(text)
        )
    return key, eq + 1


def _quoted_value(text: str, i: int) -> Tuple[str, int]:
    """The single-quoted value whose first character is at ``i`` (after the quote), and the index after the
    closing quote."""
    value, i = _scan_value(text, i, lambda ch: ch == "'")
    if i >= len(text):
        raise DatabaseError("DSN %s has an unterminated quoted value: close the quote" % _shown(text))
    return value, i + 1


def _bare_value(text: str, i: int) -> Tuple[str, int]:
    """The unquoted value starting at ``i`` (up to white space), and the index after it."""
    return _scan_value(text, i, str.isspace)


def _scan_value(text: str, i: int, ends: Callable[[str], bool]) -> Tuple[str, int]:
    """The characters from ``i`` up to the first one that ``ends`` the value (or the end of the text), and the
    index of that character; a backslash escapes the next character."""
    value = []
    n = len(text)
    while i < n and not ends(text[i]):
        if text[i] == "\\" and i + 1 < n:
            i += 1
        value.append(text[i])
        i += 1
    return "".join(value), i


def _parse_keyword_dsn(dialect: str, text: str) -> ConnectionSpec:
    """libpq ``key=value`` pairs; values may be single-quoted with backslash escapes."""
    pairs = _keyword_pairs(text)
    port = _port(pairs.pop("port"), text) if "port" in pairs else None
    return ConnectionSpec(
        dialect,
        host=pairs.pop("host", None) or pairs.pop("hostaddr", None),
        port=port,
        user=pairs.pop("user", None),
        password=pairs.pop("password", None),
        database=pairs.pop("dbname", None) or pairs.pop("database", None),
        options=pairs,
    )


def build_spec(
    dialect: Optional[str],
    dsn: Optional[str] = None,
    host: Optional[str] = None,
    port: Optional[int] = None,
    user: Optional[str] = None,
    password: Optional[str] = None,
    database: Optional[str] = None,
    options: Optional[Dict[str, str]] = None,
) -> ConnectionSpec:
    """A spec from a DSN and/or separate fields; separate fields win over the DSN's.

    That lets a DSN without a secret live in inventory while the password
    comes from a vault variable. For SQLite, ``database`` is the file path.
    """
    if dsn:
        spec = parse_dsn(dsn, dialect)
    elif dialect:
        spec = ConnectionSpec(dialect)
    else:
        raise DatabaseError("set dialect (postgresql, mysql or sqlite) or a dsn URL that names it")
    if spec.dialect == "sqlite":
        if database:
            spec.path = database
        if not spec.path:
            raise DatabaseError("no SQLite database file: set dsn (or database) to the path of the .db file")
        spec.path = os.path.expanduser(spec.path)
        if spec.path != ":memory:" and not os.path.isabs(spec.path):
            raise DatabaseError(
                "SQLite path %r is relative: give an absolute path (the module's working directory is not yours)"
                % spec.path
            )
    else:
        spec.host = host or spec.host
        spec.port = port or spec.port
        spec.user = user or spec.user
        spec.password = password if password else spec.password
        spec.database = database or spec.database
        if not spec.database:
            raise DatabaseError("no database name: set database (or put it in the dsn, e.g. .../dbname)")
    if options:
        spec.options.update(options)
    return spec


def driver_missing(dialect: str) -> Optional[str]:
    """The import error text when the dialect's driver is missing, else None."""
    dialect = normalize_dialect(dialect)
    if dialect == "postgresql" and not HAS_PSYCOPG:
        return PSYCOPG_IMPORT_ERROR or "psycopg is not installed"
    if dialect == "mysql" and not HAS_PYMYSQL:
        return PYMYSQL_IMPORT_ERROR or "PyMySQL is not installed"
    return None


def connect(spec: ConnectionSpec, connect_timeout: float = 10, read_only: bool = False, create: bool = True) -> Any:
    """A DB-API connection in autocommit mode (use explicit BEGIN/COMMIT).

    ``read_only`` makes the session refuse writes (check mode proves it
    changes nothing); ``create`` (SQLite) allows creating a missing file.
    Raises DatabaseError naming what to fix.
    """
    missing = driver_missing(spec.dialect)
    if missing:
        raise DatabaseError(
            "the Python package %s is needed on the host that runs the migration for %s: %s"
            % (DRIVER_PACKAGES[spec.dialect], spec.dialect, missing)
        )
    if spec.dialect == "postgresql":
        return _connect_postgresql(spec, connect_timeout, read_only)
    if spec.dialect == "mysql":
        return _connect_mysql(spec, connect_timeout, read_only)
    return _connect_sqlite(spec, connect_timeout, read_only, create)


def _connect_postgresql(spec: ConnectionSpec, connect_timeout: float, read_only: bool) -> Any:
    kwargs = dict(spec.options)
    for key, value in (("host", spec.host), ("port", spec.port), ("user", spec.user), ("dbname", spec.database)):
        if value:
            kwargs[key] = value
    if spec.password:
        kwargs["password"] = spec.password
    kwargs.setdefault("connect_timeout", max(1, int(math.ceil(connect_timeout))))
    kwargs.setdefault("application_name", "zerodown.deploy")
    try:
        conn = psycopg.connect(autocommit=True, **kwargs)
        if read_only:
            conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        return conn
    except psycopg.Error as exc:
        raise DatabaseError(
            _explain_connect_error(spec, str(exc)), spec.secrets(), getattr(exc, "sqlstate", None)
        ) from None


def _connect_mysql(spec: ConnectionSpec, connect_timeout: float, read_only: bool) -> Any:
    kwargs = {}  # type: Dict[str, Any]
    for key, value in spec.options.items():
        kind = _PYMYSQL_OPTIONS.get(key)
        if kind is None:
            raise DatabaseError(
                "DSN option %r is not supported for MySQL/MariaDB: use one of %s"
                % (key, ", ".join(sorted(_PYMYSQL_OPTIONS)))
            )
        kwargs[key] = _convert_option(key, value, kind)
    kwargs.update(
        host=spec.host or "localhost",
        port=int(spec.port or DEFAULT_PORTS["mysql"]),
        user=spec.user or "root",
        password=spec.password or "",
        database=spec.database,
        connect_timeout=max(1, int(math.ceil(connect_timeout))),
        autocommit=True,
        charset=kwargs.get("charset", "utf8mb4"),
    )
    # PyMySQL's connect_timeout bounds the TCP connect only: a server that accepts and never sends its greeting
    # would hang the deploy for good. The handshake gets the same bound, then reads go back to the DSN's
    # read_timeout (none by default: a migration statement may run long, statement_timeout bounds it).
    read_timeout = kwargs.get("read_timeout")
    kwargs["read_timeout"] = kwargs["connect_timeout"]
    try:
        conn = pymysql.connect(**kwargs)
        if read_only:
            with conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION READ ONLY")
        conn._read_timeout = read_timeout  # PyMySQL applies it to every later read (connections.py _read_bytes)
        return conn
    except pymysql.Error as exc:
        raise DatabaseError(_explain_connect_error(spec, _mysql_message(exc)), spec.secrets()) from None


def _convert_option(key: str, value: str, kind: Any) -> Any:
    if kind == "bool":
        if str(value).lower() in _TRUE:
            return True
        if str(value).lower() in _FALSE:
            return False
        raise DatabaseError("DSN option %s=%r is not a boolean: use true or false" % (key, value))
    try:
        return kind(value)
    except ValueError:
        raise DatabaseError("DSN option %s=%r is not a valid %s" % (key, value, kind.__name__)) from None


def _mysql_message(exc: Exception) -> str:
    args = getattr(exc, "args", ())
    if len(args) >= 2:
        return "(%s) %s" % (args[0], args[1])
    return str(exc)


def _connect_sqlite(spec: ConnectionSpec, connect_timeout: float, read_only: bool, create: bool) -> Any:
    path = spec.path or ""
    if path != ":memory:":
        directory = os.path.dirname(path) or "."
        if not os.path.isdir(directory):
            raise DatabaseError(
                "SQLite database %s: directory %s does not exist: create it or fix the path" % (path, directory)
            )
        if not os.path.exists(path) and (read_only or not create):
            raise DatabaseError("SQLite database file %s does not exist: fix the path or create the database" % path)
    mode = "ro" if read_only else ("rwc" if create else "rw")
    from urllib.parse import quote

    uri = "file:%s?mode=%s" % (quote(path), mode) if path != ":memory:" else ":memory:"
    try:
        conn = sqlite3.connect(
            uri, timeout=connect_timeout, isolation_level=None, uri=path != ":memory:", check_same_thread=False
        )
        # Fail now on a file that is not a database, not in the middle of a run.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.Error as exc:
        raise DatabaseError(
            "cannot open SQLite database %s: %s: check the path and its permissions" % (path, exc)
        ) from None


#: The usual causes of a failed connection, in the order they are tried: (the driver message's tell-tales - any
#: one group of words all found in it -, the one thing to fix).
_CONNECT_FIXES = (
    (
        (("password authentication failed",), ("access denied",), ("(1045)",)),
        "check user and password (zerodown_db_password / the dsn) for %(where)s",
    ),
    (
        (("database", "does not exist"), ("unknown database",), ("(1049)",)),
        "database %(database)r does not exist on the server: fix database (or the dsn) or create it",
    ),
    ((("role", "does not exist"),), "user %(user)r does not exist on the server: fix user (or the dsn)"),
    (
        (("no pg_hba.conf entry",),),
        "the server's pg_hba.conf does not allow this client: allow it or connect from an allowed host",
    ),
    (
        (("timeout",), ("timed out",)),
        "no answer from %(address)s in time: check host and port, firewalls, and that the database is reachable "
        "from the host that runs the migration",
    ),
    (
        (
            ("refused",),
            ("could not translate host name",),
            ("can't connect",),
            ("name or service not known",),
            ("(2003)",),
            ("no route",),
            ("unreachable",),
        ),
        "cannot reach %(address)s: check host and port, and that the database server is running and reachable "
        "from the host that runs the migration",
    ),
)


def _explain_connect_error(spec: ConnectionSpec, message: str) -> str:
    """The driver's message plus the one thing to fix, by the usual causes."""
    low = message.lower()
    where = spec.describe()
    address = "%s:%s" % (spec.host or "localhost", spec.port or DEFAULT_PORTS.get(spec.dialect, ""))
    fix = "check the connection settings for %(where)s (server %(address)s)"
    for tell_tales, cause_fix in _CONNECT_FIXES:
        if any(all(word in low for word in words) for words in tell_tales):
            fix = cause_fix
            break
    fix %= dict(where=where, address=address, database=spec.database, user=spec.user)
    return "cannot connect to %s: %s (%s)" % (where, fix, message.strip())


# --- runner locks -----------------------------------------------------------

LOCK_POLL_INTERVAL = 0.1


def runner_lock_name(scope: str) -> str:
    """A lock name valid for GET_LOCK (at most 64 characters)."""
    name = "zerodown:%s" % scope
    if len(name) > 64:
        name = "zerodown:" + hashlib.sha256(scope.encode("utf-8")).hexdigest()[:40]
    return name


def runner_lock_key(scope: str) -> int:
    """A signed 64-bit key for pg_advisory_lock, stable for a scope name."""
    digest = hashlib.sha256(runner_lock_name(scope).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def acquire_runner_lock(conn: Any, dialect: str, scope: str, timeout: float, clock: Optional[Clock] = None) -> None:
    """Take the session-level advisory lock for ``scope`` or raise LockTimeout.

    PostgreSQL ``pg_try_advisory_lock``, MySQL/MariaDB ``GET_LOCK(name, 0)``,
    polled through ``wait_until``. The lock is released by
    ``release_runner_lock`` or when the session ends (a crashed runner never
    leaves it behind). SQLite has no session locks: use ``begin_exclusive``.
    """
    dialect = normalize_dialect(dialect)
    if dialect == "sqlite":
        raise DatabaseError("SQLite has no advisory locks: use begin_exclusive()")
    if dialect == "postgresql":
        sql, arg = "SELECT pg_try_advisory_lock(%s)", runner_lock_key(scope)
    else:
        sql, arg = "SELECT GET_LOCK(%s, 0)", runner_lock_name(scope)

    def attempt() -> bool:
        cur = conn.cursor()
        try:
            cur.execute(sql, (arg,))
            row = cur.fetchone()
        finally:
            cur.close()
        return bool(row and row[0])

    try:
        wait_until(attempt, timeout, LOCK_POLL_INTERVAL, clock=clock, description="runner lock")
    except WaitTimeout:
        raise LockTimeout(
            "another migration runner holds the lock %s on this database and did not release it within %ss: "
            "wait for it to finish (or raise runner_lock_timeout)" % (runner_lock_name(scope), timeout)
        ) from None


def release_runner_lock(conn: Any, dialect: str, scope: str) -> None:
    dialect = normalize_dialect(dialect)
    if dialect == "sqlite":
        return
    if dialect == "postgresql":
        sql, arg = "SELECT pg_advisory_unlock(%s)", runner_lock_key(scope)
    else:
        sql, arg = "SELECT RELEASE_LOCK(%s)", runner_lock_name(scope)
    cur = conn.cursor()
    try:
        cur.execute(sql, (arg,))
        cur.fetchone()
    finally:
        cur.close()


def begin_exclusive(conn: Any, timeout: float, clock: Optional[Clock] = None) -> None:
    """Open an SQLite ``BEGIN EXCLUSIVE`` transaction, waiting up to ``timeout`` for other writers/readers."""

    def attempt() -> bool:
        try:
            conn.execute("BEGIN EXCLUSIVE")
            return True
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return False
            raise DatabaseError("BEGIN EXCLUSIVE failed: %s" % exc) from None

    # Poll without SQLite's own busy wait so that the deadline is ours.
    previous = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        wait_until(attempt, timeout, LOCK_POLL_INTERVAL / 2, clock=clock, description="SQLite exclusive lock")
    except WaitTimeout:
        raise LockTimeout(
            "the SQLite database is locked by another connection (a migration runner or a long transaction) "
            "for more than %ss: wait for it to finish (or raise the timeout)" % timeout
        ) from None
    finally:
        conn.execute("PRAGMA busy_timeout = %d" % int(previous))
