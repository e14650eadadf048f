# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the one validation layer for what users give.

Three kinds of value reach the modules and the deploy plan from users (and from
careless templating), and each has exactly one check, here:

* **names** (``name``): application names, release ids, HAProxy backends and
  servers, nginx upstream addresses, SQL identifiers, systemd units, variable
  and header names. Always ``re.fullmatch``: ``re.match`` with ``$`` accepts a
  trailing newline (``$`` matches before a final ``\\n``), which made "app\\n" a
  second lock beside "app" and "table\\n" a new, empty tracking table.
* **numbers** (``number``, ``Limit``): finite, within bounds, and written with
  ASCII digits when given as text. ``nan`` compares false with everything, so
  ``timeout < 0`` lets it through and a wait on it never ends; ``inf`` and
  ``1e13`` overflow sockets and datetimes; ``str.isdigit`` and ``int()`` take
  '５' and '١٢'.
* **paths** (``regular_file_inside``, ``read_regular_file``, ``relative_path``):
  a file named by a user is a regular file inside the directory it was given
  in, checked without opening it first (a FIFO blocks ``open``, ``/dev/zero``
  never ends ``read``), and a symlink is followed only when it stays inside.

Plus ``json_document``: JSON from outside (a server's answer, a state file)
parsed with its nesting bounded, and ``nul_problem``: a NUL byte anywhere in a module's parameters (a DSN, a
path, a name) is refused before the first system call can trip over it.

Every refusal is a ``ValidationError`` (a ``ValueError``), or the error class
the caller names, whose message gives the option, the bad value (``shown``:
repr, truncated) and what to give instead. Nothing here knows AnsibleModule.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from typing import Any, Callable, Dict, List, Mapping, Optional

#: No wait, timeout, pause or TTL of a deploy is longer than this (30 days).
MAX_SECONDS = 30 * 24 * 3600
#: A poll interval longer than this (1 hour) is a mistake for a timeout.
MAX_INTERVAL = 3600
#: Repeat counts (smoke rounds, consecutive successes, retries): each repeat costs a request or a wait.
MAX_REPEATS = 100
#: Characters of a bad value quoted in a message.
SHOWN_CHARS = 80


class ValidationError(ValueError):
    """A value is refused; the message names the option, the value and the fix."""


#: What a check raises: ValidationError, or a caller's class (HAProxyNameError, ...) or factory taking the message.
Error = Callable[[str], Exception]


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)``, cut to ``limit`` characters with the full length said, so a huge value stays readable."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = " (%d characters)" % len(value) if isinstance(value, (str, bytes)) else ""
    return "%s...%s" % (text[:limit], size)


# -- names -------------------------------------------------------------------------------

#: kind -> whole-string pattern (used with fullmatch only).
NAME_PATTERNS: Dict[str, str] = {
    "app": r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}",
    "release": r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}",
    "lb": r"[A-Za-z0-9_.:-]{1,128}",
    "nginx_address": r"[A-Za-z0-9_.:\[\]-]{1,255}",
    "sql_identifier": r"[A-Za-z_][A-Za-z0-9_]{0,62}",
    "systemd_service": r"[A-Za-z0-9:_.@-]{1,247}\.service",
    "env_name": r"[A-Za-z_][A-Za-z0-9_]{0,254}",
    "header_name": r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}",
    # POSIX portable user and group names (not all digits: chown and systemd would read a number as an id)
    "posix_account": r"(?![0-9]+$)[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}",
    # a surge slot names a systemd instance (<service>@<slot>.service) and a HAProxy server suffix
    "surge_slot": r"[a-z0-9][a-z0-9_-]{0,15}",
}
#: kind -> what a valid one looks like, for the refusal.
NAME_HINTS: Dict[str, str] = {
    "app": "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    "release": "use 1-128 letters, digits, '.', '_', '+' or '-', starting with a letter or digit (the same id on "
    "every host)",
    "lb": "use 1-128 characters from A-Z a-z 0-9 _ . : - (no spaces, ';', '/' or newlines, which the runtime API "
    "treats as separators)",
    "nginx_address": "give host:port with characters A-Z a-z 0-9 _ . : - [ ] (no spaces, ';', '#' or newlines)",
    "sql_identifier": "use letters, digits and _ (at most 63, not starting with a digit)",
    "systemd_service": "give a systemd service name such as shop.service",
    "env_name": "give a variable name: letters, digits and _, not starting with a digit",
    "header_name": "use letters, digits and '-' (an HTTP header name)",
    "posix_account": "give a POSIX user or group name: 1-32 letters, digits, '.', '_' or '-', not starting with '-' "
    "and not all digits (e.g. shop)",
    "surge_slot": "use 1-16 characters a-z 0-9 _ -, starting with a letter or digit (it names a systemd instance "
    "and a HAProxy server)",
}
_NAME_RES = {kind: re.compile(pattern) for kind, pattern in NAME_PATTERNS.items()}


def is_name(value: Any, kind: str) -> bool:
    """Whether ``value`` is a whole valid ``kind`` name (for filters, where a bad one is skipped, not refused)."""
    return isinstance(value, str) and _NAME_RES[kind].fullmatch(value) is not None and value not in (".", "..")


def name(value: Any, kind: str, what: str, error: Error = ValidationError) -> str:
    """``value`` if it is a whole valid ``kind`` name (NAME_PATTERNS), else ``error`` naming ``what``."""
    if not is_name(value, kind):
        raise error("invalid %s %s: %s" % (what, shown(value), NAME_HINTS[kind]))
    return value


# -- numbers -----------------------------------------------------------------------------

# A number as text: ASCII digits only (float() and int() also read '５' and '١٢' as 5 and 12).
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"[0-9]+")


def _g(number: float) -> str:
    return "%d" % number if float(number).is_integer() else "%g" % number


class Limit:
    """The range of one kind of numeric option: ``Limit(0, MAX_SECONDS)``, ``Limit(1, 100, integer=True)``."""

    __slots__ = ("low", "high", "low_open", "high_open", "unit", "integer", "expect")

    def __init__(
        self,
        low: float,
        high: float,
        low_open: bool = False,
        high_open: bool = False,
        unit: str = "seconds",
        integer: bool = False,
        expect: Optional[str] = None,
    ) -> None:
        self.low, self.high = low, high
        self.low_open, self.high_open = low_open, high_open
        self.unit = unit
        self.integer = integer
        self.expect = expect

    def describe(self) -> str:
        """What a valid value is, as the end of "give ...": "0 or more seconds, at most 2592000"."""
        if self.expect:
            return self.expect
        low = ("more than %s" if self.low_open else "%s or more") % _g(self.low)
        high = ("below %s" if self.high_open else "at most %s") % _g(self.high)
        return "%s%s%s, %s" % (
            "a whole number of " if self.integer else "",
            low,
            " " + self.unit if self.unit else "",
            high,
        )

    def check(self, value: Any, what: str, error: Error = ValidationError) -> Any:
        """The value as a float (an int when ``integer``); ``error`` naming ``what``, the value and the range."""

        def refuse(problem: str = "") -> Exception:
            return error("%s=%s%s: give %s" % (what, shown(value), problem, self.describe()))

        if isinstance(value, bool):
            raise refuse(" is a boolean")
        if isinstance(value, str):
            text = value.strip()
            if (_WHOLE if self.integer else _DECIMAL).fullmatch(text) is None:
                raise refuse(" is not a number written with the digits 0-9")
            number: float = int(text) if self.integer else float(text)
        elif isinstance(value, (int, float)):
            number = value
        else:
            raise refuse(" is not a number")
        if isinstance(number, float) and not math.isfinite(number):
            raise refuse(" is not a finite number")
        if self.integer:
            if isinstance(number, float) and not number.is_integer():
                raise refuse(" is not a whole number")
            number = int(number)
        if number < self.low or (self.low_open and number == self.low):
            raise refuse()
        if number > self.high or (self.high_open and number == self.high):
            raise refuse()
        return number if self.integer else float(number)


#: 0 means "do not wait": drain and lock timeouts, pauses, delays.
WAIT = Limit(0, MAX_SECONDS)
#: A wait that must be able to succeed: connect, request and probe timeouts.
TIMEOUT = Limit(0, MAX_SECONDS, low_open=True)
#: Time between two polls.
INTERVAL = Limit(0, MAX_INTERVAL, low_open=True)
#: Lock TTL and other whole-second durations.
WHOLE_SECONDS = Limit(1, MAX_SECONDS, integer=True)
#: Repeats that each cost a request or a wait.
REPEATS = Limit(1, MAX_REPEATS, unit="", integer=True)
#: Retries: 0 is "no retry".
RETRIES = Limit(0, MAX_REPEATS, unit="", integer=True)
PORT = Limit(1, 65535, unit="", integer=True, expect="a TCP port, 1 to 65535")
MILLISECONDS = Limit(0, MAX_SECONDS * 1000, low_open=True, unit="milliseconds")
PERCENT = Limit(0, 100, low_open=True, unit="percent")


def number(value: Any, what: str, limit: Limit, error: Error = ValidationError) -> Any:
    """``limit.check(value, what)``: the one entry point for a numeric option."""
    return limit.check(value, what, error)


def numbers(
    params: Mapping[str, Any], limits: Mapping[str, Limit], prefix: str = "", error: Error = ValidationError
) -> None:
    """Check every option of ``params`` named in ``limits`` (None, an option left out, is not checked)."""
    for key, limit in limits.items():
        if params.get(key) is not None:
            limit.check(params[key], prefix + key, error)


def whole_number_text(value: Any, what: str, error: Error = ValidationError) -> int:
    """A whole number given as an int or as ASCII digits ('５' and '١٢' pass str.isdigit, and are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise error("%s=%s is not a whole number" % (what, shown(value)))
    if isinstance(value, str):
        if _WHOLE.fullmatch(value.strip()) is None:
            raise error("%s=%s is not a whole number written with the digits 0-9" % (what, shown(value)))
        return int(value.strip())
    return value


_SIGNED_WHOLE = re.compile(r"[+-]?[0-9]+")
_NOT_FINITE = ("inf", "infinity", "nan")


def raw_number_problem(raw: Any, argument_spec: Mapping[str, Any], prefix: str = "") -> Optional[str]:
    """A message naming the first int or float option the task gave as text not written with the digits 0-9, or None.

    ``raw`` is what the task gave, before Ansible converted it for the module: int() and float() read '٥' as 5,
    '١٢' as 12 and '1_0' as 10, so by the time a module sees its options the evidence is gone. Options with
    ``options`` (a dict, or a list of dicts) are walked too.
    """
    if not isinstance(raw, Mapping):
        return None
    for name, spec in argument_spec.items():
        value = raw.get(name)
        kind = spec.get("type", "str")
        where = prefix + name
        if kind in ("int", "float") and isinstance(value, str):
            problem = _raw_number_problem(value, kind, where)
        elif kind == "list" and spec.get("elements") in ("int", "float") and isinstance(value, list):
            problem = next(
                (
                    found
                    for index, item in enumerate(value)
                    if isinstance(item, str)
                    for found in [_raw_number_problem(item, spec["elements"], "%s[%d]" % (where, index))]
                    if found
                ),
                None,
            )
        elif spec.get("options") and isinstance(value, Mapping):
            problem = raw_number_problem(value, spec["options"], where + ".")
        elif spec.get("options") and isinstance(value, list):
            problem = next(
                (
                    found
                    for index, item in enumerate(value)
                    for found in [raw_number_problem(item, spec["options"], "%s[%d]." % (where, index))]
                    if found
                ),
                None,
            )
        else:
            problem = None
        if problem:
            return problem
    return None


def _raw_number_problem(value: str, kind: str, where: str) -> Optional[str]:
    text = value.strip()
    if kind == "int" and _SIGNED_WHOLE.fullmatch(text):
        return None
    if kind == "float" and (_DECIMAL.fullmatch(text) or text.lower().lstrip("+-") in _NOT_FINITE):
        return None  # the module's own check says what is wrong with inf and nan
    return (
        "%s=%s is not a number written with the digits 0-9 (Python reads '\u0665' as 5 and '1_0' as 10, so it would "
        "have been taken for one): write it as plain digits, e.g. 10 or 2.5" % (where, shown(value))
    )


def input_problem(params: Any, argument_spec: Mapping[str, Any], raw: Any = None) -> Optional[str]:
    """The first problem of a module's input that Ansible's own checks let through: a NUL byte anywhere
    (``nul_problem``), a number written with other than the digits 0-9 (``raw_number_problem`` on ``raw``)."""
    return nul_problem(params) or raw_number_problem(raw, argument_spec)


# -- NUL bytes ---------------------------------------------------------------------------


def nul_problem(params: Any, prefix: str = "") -> Optional[str]:
    """A message naming the first option (``checks[0].name``) whose value or key holds a NUL byte, or None.

    A NUL cannot be part of a path, a DSN, a name or a command line: the C layer cuts the string there,
    so "a\\x00b" would silently mean "a", or os.* raises a ValueError the module never expected.
    """
    if isinstance(params, (str, bytes)):
        index = params.find("\x00" if isinstance(params, str) else b"\x00")
        if index >= 0:
            # The value itself is not quoted: it may be a password or a DSN.
            return "%s holds a NUL byte (at character %d): remove it" % (prefix or "the value", index + 1)
        return None
    if isinstance(params, Mapping):
        for key, value in params.items():
            where = "%s.%s" % (prefix, key) if prefix else str(key)
            if isinstance(key, str) and "\x00" in key:
                return "%s: the key %s holds a NUL byte: remove it" % (prefix or "parameters", shown(key))
            problem = nul_problem(value, where)
            if problem:
                return problem
        return None
    if isinstance(params, (list, tuple)):
        for index, value in enumerate(params):
            problem = nul_problem(value, "%s[%d]" % (prefix, index))
            if problem:
                return problem
    return None


# -- paths -------------------------------------------------------------------------------


def relative_path(value: Any, what: str, error: Error = ValidationError) -> str:
    """A path inside a directory: relative, no ``..``, no empty part (``log``, ``config/app.env``)."""
    parts = value.split("/") if isinstance(value, str) else []
    if not parts or value.startswith("/") or ".." in parts or "" in parts:
        raise error(
            "%s entry %s must be a relative path inside the release, e.g. log or config/app.env" % (what, shown(value))
        )
    return value


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def regular_file_inside(path: str, directory: str, what: str, error: Error = ValidationError) -> str:
    """The resolved path of ``path`` if it is a regular file inside ``directory`` (both resolved), else ``error``.

    Looks with stat only: a FIFO, a device or a socket is refused before anything opens it (an open of a FIFO
    blocks until a writer comes, a read of /dev/zero never ends). A symlink counts as what it points at, and
    only when that stays inside ``directory``: a link to /etc/shadow must not be read and quoted back.
    """
    real_dir = os.path.realpath(directory)
    real = os.path.realpath(path)
    if not _inside(real, real_dir):
        raise error(
            "%s %s resolves to %s, outside %s: a file is only read inside the directory it is given in; "
            "copy it there instead of linking to it" % (what, path, real, real_dir)
        )
    try:
        mode = os.stat(real).st_mode
    except OSError as exc:
        raise error("%s %s cannot be read: %s" % (what, path, exc.strerror or exc)) from exc
    if not stat.S_ISREG(mode):
        raise error("%s %s is %s, not a regular file" % (what, path, file_kind(mode)))
    return real


def file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def read_regular_file(path: str, max_bytes: int, what: str, error: Error = ValidationError) -> bytes:
    """At most ``max_bytes`` of a regular file, refusing anything else even if it was swapped in after a check.

    O_NONBLOCK makes the open of a FIFO return at once instead of waiting for a writer, O_NOFOLLOW refuses a
    symlink put in place of the file, and fstat on the open descriptor decides: only a regular file is read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise error("cannot read %s %s: %s" % (what, path, exc.strerror or exc)) from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error("%s %s is %s, not a regular file" % (what, path, file_kind(mode)))
        raw = read_bounded(fd, max_bytes)
    except OSError as exc:
        raise error("cannot read %s %s: %s" % (what, path, exc.strerror or exc)) from exc
    finally:
        os.close(fd)
    if len(raw) > max_bytes:
        raise error("%s %s is larger than the %d byte limit" % (what, path, max_bytes))
    return raw


def read_bounded(fd: int, max_bytes: int) -> bytes:
    """Up to ``max_bytes + 1`` bytes of an open file: one byte more than the limit tells a file that is too large."""
    chunks: List[bytes] = []
    size = 0
    while size <= max_bytes:
        chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


# -- JSON from outside (a server's answer, a state file) -----------------------------------------

#: No JSON document we read is nested deeper than this; deeper ones are refused before anything walks them.
MAX_JSON_DEPTH = 100


def json_document(text: Any, what: str, max_depth: int = MAX_JSON_DEPTH, **options: Any) -> Any:
    """``json.loads(text)``, or ValueError naming ``what`` and why: not JSON, or nested deeper than ``max_depth``.

    A document nested past Python's recursion limit raises RecursionError (not a ValueError) inside json, and
    one a little shallower parses but then breaks whatever walks it recursively (==, json.dumps, a repr); so
    the depth is measured without recursion and bounded here, once, for every reader.
    """
    try:
        document = json.loads(text, **options)
    except RecursionError:
        raise ValueError("%s is JSON nested deeper than %d levels" % (what, max_depth)) from None
    depth = _json_depth(document, max_depth)
    if depth > max_depth:
        raise ValueError("%s is JSON nested deeper than %d levels" % (what, max_depth))
    return document


def _json_depth(document: Any, stop: int) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), counted up to ``stop + 1``."""
    deepest = 0
    todo = [(document, 0)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, (dict, list)):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > stop:
                return deepest
            todo.extend((child, depth) for child in (node.values() if isinstance(node, dict) else node))
    return deepest
