# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the one place that keeps secrets out of what we print.

* ``redact(text, secrets)``: every given secret, the user-info of every URL
  (``http://user:pass@host`` -> ``http://********@host``; a database URL keeps
  its user, ``postgresql://app:********@db``) and every ``password=`` field
  masked. Passwords may hold ``@`` and ``:``: a URL's user-info runs to the
  *last* ``@`` of its authority;
* ``url_secrets(url)`` / ``dsn_secrets(dsn)``: the secret parts of a URL or
  DSN we were given (as written, percent-decoded and, for HTTP, the Basic
  credential made of them), found without parsing it
  in full, so that even a DSN too broken to parse never leaks a piece of its
  password; modules add them to ``AnsibleModule.no_log_values`` and pass them
  to ``redact``;
* ``secrets_in(params)``: all of those in a module's parameters, for
  ``no_log_values`` (so not even the printed invocation shows them);
* ``scrub(value, secrets)``: ``redact`` applied to every string of a result or
  a state file.

Knows nothing of AnsibleModule.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Iterable, List, Optional
from urllib.parse import quote, unquote

MASK = "********"

#: URL schemes whose user name is not a secret (a database role); any other user-info may be a token.
_DATABASE_SCHEMES = ("postgresql", "postgres", "pgsql", "mysql", "mariadb", "sqlite", "sqlite3")
# scheme://userinfo@ - userinfo runs to the last '@' before the path, query or fragment.
_URL_USERINFO_RE = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*)://(?P<userinfo>[^\s/?#]*)@")
# libpq / ODBC password fields: a quoted value (even one left unterminated) or everything up to white space.
_KV_PASSWORD_RE = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd)\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*(?:'|\\?$)|[^\s]+)", re.IGNORECASE
)


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match.group("scheme"), match.group("userinfo")
    base = scheme.split("+", 1)[0].lower()
    user, colon, _password = userinfo.partition(":")
    if base not in _DATABASE_SCHEMES:
        return "%s://%s@" % (scheme, MASK)
    if not colon:
        return match.group(0)  # postgresql://app@db: a role name, no password
    return "%s://%s:%s@" % (scheme, user, MASK)


def redact(text: Any, secrets: Iterable[Optional[str]] = ()) -> str:
    """``text`` with every given secret, any URL user-info and any ``password=`` value masked."""
    out = str(text)
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        out = out.replace(secret, MASK)
        quoted = quote(secret, safe="")
        if quoted != secret:
            out = out.replace(quoted, MASK)
    out = _URL_USERINFO_RE.sub(_mask_userinfo, out)
    return _KV_PASSWORD_RE.sub(lambda m: m.group("head") + MASK, out)


#: A user-info without a password is taken for a token (https://TOKEN@host) from this length on; a shorter one
#: is a user name, masked inside URLs but not wherever the word appears.
TOKEN_MIN_CHARS = 8


def url_secrets(url: Any, user_may_be_token: bool = True) -> List[str]:
    """The secret parts of one URL's user-info: the password, or (no password) a user long enough to be a token.

    A database URL's user is a role name, never a secret. Values come as written and percent-decoded.
    """
    if not isinstance(url, str) or "://" not in url:
        return []
    scheme, _sep, rest = url.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfo, at, _host = authority.rpartition("@")
    if not at or not userinfo:
        return []
    user, colon, password = userinfo.partition(":")
    if colon:
        # and the HTTP Basic credential made of them, which an echoing server may send back
        basic = base64.b64encode(("%s:%s" % (unquote(user), unquote(password))).encode("utf-8")).decode("ascii")
        found = [password, basic] if user_may_be_token else [password]
    elif (
        user_may_be_token
        and scheme.split("+", 1)[0].lower() not in _DATABASE_SCHEMES
        and len(unquote(user)) >= TOKEN_MIN_CHARS
    ):
        found = [user]
    else:
        found = []
    return _with_decoded(found)


def dsn_secrets(dsn: Any) -> List[str]:
    """The password of a DSN (URL or libpq ``key=value``), however broken the rest of it is."""
    if not isinstance(dsn, str):
        return []
    found = url_secrets(dsn.strip(), user_may_be_token=False)
    for match in _KV_PASSWORD_RE.finditer(dsn):
        value = match.group("value")
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1] if value.endswith("'") and len(value) > 1 else value[1:])
        found.append(value)
    return _with_decoded(found)


_URL_TOKEN_RE = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://\S+")


def secrets_in(value: Any) -> List[str]:
    """Every URL password (or token) and ``password=`` value inside ``value``: a module's parameters, say.

    Modules add them to ``no_log_values`` first thing, so that not even the invocation Ansible prints with the
    result shows the credentials of a URL given in any option.
    """
    found: List[str] = []
    if isinstance(value, str):
        for token in _URL_TOKEN_RE.findall(value):
            found.extend(url_secrets(token))
        found.extend(dsn_secrets(value) if "=" in value else [])
    elif isinstance(value, dict):
        for item in value.values():
            found.extend(secrets_in(item))
    elif isinstance(value, (list, tuple)):
        for item in value:
            found.extend(secrets_in(item))
    return _with_decoded(found)


def _with_decoded(values: Iterable[str]) -> List[str]:
    out: List[str] = []
    for value in values:
        for form in (value, unquote(value)):
            if form and form not in out:
                out.append(form)
    return out


def scrub(value: Any, secrets: Iterable[Optional[str]] = ()) -> Any:
    """``value`` with ``redact`` applied to every string in it (dict keys too), types otherwise kept."""
    secrets = [s for s in secrets if s]
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {scrub(k, secrets) if isinstance(k, str) else k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(v, secrets) for v in value)
    return value
