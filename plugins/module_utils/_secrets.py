# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the one place that keeps secrets out of what we print.

* ``redact(text, secrets)``: every given secret, the user-info of every URL
  (``http://user:pass@host`` -> ``http://********@host``; a database URL keeps
  its user, ``postgresql://app:********@db``) and every ``password=`` field
  masked, and the value of every query parameter that carries a credential
  (``token=``, ``api_key=``, ``access_token=``, ``X-Amz-Signature=``, ...;
  ``is_secret_param``); each secret also in the escaped forms a server may
  echo it in (percent-encoded, JSON- and HTML-escaped). Passwords may hold
  ``@`` and ``:``: a URL's user-info runs to the *last* ``@`` of its authority;
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
import html
import json
import re
from typing import Any, Iterable, List, Optional
from urllib.parse import parse_qsl, quote, quote_plus, unquote

MASK = "********"

#: URL schemes whose user name is not a secret (a database role); any other user-info may be a token.
_DATABASE_SCHEMES = ("postgresql", "postgres", "pgsql", "mysql", "mariadb", "sqlite", "sqlite3")
# scheme://userinfo@ - userinfo runs to the last '@' before the path, query or fragment.
_URL_USERINFO_RE = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*)://(?P<userinfo>[^\s/?#]*)@")
# libpq / ODBC password fields: a quoted value (even one left unterminated) or everything up to white space.
_KV_PASSWORD_RE = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd)\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*(?:'|\\?$)|[^\s]+)", re.IGNORECASE
)


#: Query parameter names that carry a credential: a name holding one of these words (api_key, access_token,
#: client_secret, X-Amz-Signature, ...), or one of the short names services use for one (key, sig, ...).
_SECRET_PARAM_WORDS = (
    "token",
    "secret",
    "passw",
    "pwd",
    "apikey",
    "api_key",
    "api-key",
    "accesskey",
    "access_key",
    "privatekey",
    "private_key",
    "signature",
    "credential",
    "auth",
    "session",
    "jwt",
)
_SECRET_PARAM_NAMES = ("key", "sig", "code", "sid", "pass", "pw")
# a query (or form) parameter: after ? & or ; its name, =, and a value running to the next & # ; or space/quote
_QUERY_PARAM_RE = re.compile(
    r"(?P<head>(?:(?<=[?&;])|(?<=&amp;))(?P<name>[A-Za-z0-9_.\-\[\]]+)=)(?P<value>[^&#;\s'\"<>]+)"
)


def is_secret_param(name: str) -> bool:
    """True for a query parameter name that carries a credential (token=, api_key=, X-Amz-Signature=, ...)."""
    lowered = name.lower()
    return lowered in _SECRET_PARAM_NAMES or any(word in lowered for word in _SECRET_PARAM_WORDS)


def _mask_param(match: re.Match[str]) -> str:
    return match.group("head") + MASK if is_secret_param(match.group("name")) else match.group(0)


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
    forms = {form for s in secrets if s for form in escaped_forms(s)}
    for form in sorted(forms, key=len, reverse=True):
        if form.isascii() and "%" in form:  # percent-encoding: %2f and %2F alike
            out = re.sub(re.escape(form), MASK, out, flags=re.IGNORECASE)
        else:
            out = out.replace(form, MASK)
    out = _URL_USERINFO_RE.sub(_mask_userinfo, out)
    out = _QUERY_PARAM_RE.sub(_mask_param, out)
    return _KV_PASSWORD_RE.sub(lambda m: m.group("head") + MASK, out)


def escaped_forms(secret: str) -> List[str]:
    """``secret`` as written and as a server may echo it back: percent-encoded (as a path or as a form, + for
    space), JSON-escaped (ASCII or not, / as \\/ or not) and HTML-escaped."""
    forms = [
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        html.escape(secret),
        html.escape(secret, False),
    ]
    for ascii_only in (True, False):
        dumped = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        forms += [dumped, dumped.replace("/", "\\/")]
    return [form for index, form in enumerate(forms) if form and form not in forms[:index]]


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
    in_query = query_secrets(url)
    userinfo, at, _host = authority.rpartition("@")
    if not at or not userinfo:
        return in_query
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
    return _with_decoded(found) + [s for s in in_query if s not in found]


#: Query values shorter than this are not listed as secrets to mask everywhere (see ``query_secrets``).
QUERY_SECRET_MIN_CHARS = 4


def query_secrets(url: str) -> List[str]:
    """The values of a URL's credential-carrying query parameters (token=, api_key=, ...), as written and decoded."""
    query = url.partition("?")[2].partition("#")[0]
    found = [m.group("value") for m in _QUERY_PARAM_RE.finditer("?" + query) if is_secret_param(m.group("name"))]
    found += [value for name, value in parse_qsl(query, keep_blank_values=False) if is_secret_param(name)]
    # a value of a few characters (sig=1) is masked where it stands in a URL (redact), but as a no_log value it
    # would mask that text wherever it appears in the output
    return [value for value in _with_decoded(found) if len(value) >= QUERY_SECRET_MIN_CHARS]


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
    """Every URL password (or token), query credential and ``password=`` value inside ``value``: a module's
    parameters, say.

    Modules add them to ``no_log_values`` first thing, so that not even the invocation Ansible prints with the
    result shows the credentials of a URL given in any option.
    """
    found: List[str] = []
    if isinstance(value, str):
        for token in _URL_TOKEN_RE.findall(value):
            found.extend(url_secrets(token))
        if "?" in value:  # a path with a query (a smoke check's path), a URL's already counted
            found.extend(query_secrets(value))
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
