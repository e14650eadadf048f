# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: what an HTTP check asks for.

Option validation for ``readiness_probe``, ``smoke_test`` and the release module's ``ready``: each helper returns
the normalised value or raises ``HttpOptionError`` (naming the option and the bad value), which the engines turn
into a module failure. The values they build (``CheckSpec``, ``Expectations``, ``TLSOptions``) are what
``probe.checks`` sends and judges.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import SplitResult, urlsplit

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import redact, url_secrets

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
HTTP_METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")

#: TLS and redirect options shared by every module built on this engine
#: (documented once in the ``zerodown.deploy.http_client`` doc fragment).
HTTP_CLIENT_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "client_cert": {"type": "path"},
    "client_key": {"type": "path", "no_log": False},
    "follow_redirects": {"type": "bool", "default": False},
}


class HttpOptionError(ValueError):
    """An option value is unusable; the message names the option, the value and the fix."""

    def __init__(self, option: str, message: str, named: bool = False) -> None:
        # A URL's user-info never reaches the message, whatever option quoted it.
        super().__init__(redact(message if named else "%s: %s" % (option, message)))
        self.option = option


# --------------------------------------------------------------------------
# Validation helpers: each returns the normalised value or raises HttpOptionError.


def option_number(value: Any, option: str, limit: validate.Limit) -> Any:
    """A numeric option, finite and within ``limit`` (the collection's one number check)."""
    return validate.number(value, option, limit, error=lambda message: HttpOptionError(option, message, named=True))


def validate_url(value: Any, option: str, allow_tcp: bool = False) -> str:
    """Check an http(s):// (or, when allowed, tcp://host:port) URL and return it unchanged."""
    schemes = ("http", "https", "tcp") if allow_tcp else ("http", "https")
    wanted = " or ".join("%s://" % s for s in schemes)
    if not isinstance(value, str) or not value:
        raise HttpOptionError(option, "expected a URL starting with %s, got %r" % (wanted, value))
    parts = _split_url(value, option)
    if parts.scheme.lower() not in schemes:
        raise HttpOptionError(option, "URL %r must start with %s" % (value, wanted))
    port = _url_port(parts, value, option)
    if not parts.hostname:
        raise HttpOptionError(
            option, "URL %r has no host name; write it as %s://HOST[:PORT]/..." % (value, parts.scheme)
        )
    if parts.scheme.lower() == "tcp":
        _check_tcp_target(parts, port, value, option)
    elif port == 0:
        raise HttpOptionError(option, _BAD_PORT % value)
    return value


_BAD_PORT = "URL %r has an invalid port; use a number from 1 to 65535"


def _split_url(value: str, option: str) -> SplitResult:
    """``urlsplit(value)``, refusing whitespace, control characters and what does not parse."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise HttpOptionError(option, "URL %r contains whitespace or control characters; percent-encode them" % value)
    try:
        return urlsplit(value)
    except ValueError as exc:  # "http://[::1/": an IPv6 host with no closing bracket
        raise HttpOptionError(
            option, "URL %r cannot be parsed (%s); write an IPv6 host in brackets, http://[::1]:8080/" % (value, exc)
        ) from None


def _url_port(parts: SplitResult, value: str, option: str) -> Optional[int]:
    try:
        return parts.port
    except ValueError:
        raise HttpOptionError(option, _BAD_PORT % value) from None


def _check_tcp_target(parts: SplitResult, port: Optional[int], value: str, option: str) -> None:
    """A tcp:// target is a host and a port, nothing else."""
    if port is None or port == 0:
        raise HttpOptionError(option, "URL %r needs a port: write it as tcp://HOST:PORT" % value)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise HttpOptionError(option, "URL %r: a tcp:// target is only tcp://HOST:PORT" % value)


def compile_regex(value: Any, option: str) -> Optional[re.Pattern[str]]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise HttpOptionError(option, "expected a regular expression string, got %r" % (value,))
    try:
        return re.compile(value)
    except re.error as exc:
        raise HttpOptionError(option, "invalid regular expression %r: %s" % (value, exc)) from None


def parse_json_path(path: Any, option: str) -> Tuple[str, ...]:
    """Split ``checks.db`` into ``("checks", "db")``; ``\\.`` is a literal dot, digits index lists."""
    if not isinstance(path, str) or not path:
        raise HttpOptionError(option, "a JSON path must be a non-empty string like 'checks.db', got %r" % (path,))
    segments = [s.replace("\0", ".") for s in path.replace("\\.", "\0").split(".")]
    if any(s == "" for s in segments):
        raise HttpOptionError(
            option, "JSON path %r has an empty segment; write it as 'a.b.c' (escape a literal dot as \\.)" % path
        )
    return tuple(segments)


def parse_json_expectations(value: Any, option: str) -> Dict[str, Tuple[Tuple[str, ...], Any]]:
    if not value:
        return {}
    if not isinstance(value, dict):
        raise HttpOptionError(option, "expected a mapping of JSON path to expected value, got %r" % (value,))
    return {str(path): (parse_json_path(path, option), expected) for path, expected in value.items()}


def validate_headers(value: Any, option: str) -> Dict[str, str]:
    """Request headers; values are never echoed back because they often carry credentials."""
    if not value:
        return {}
    if not isinstance(value, dict):
        raise HttpOptionError(option, "expected a mapping of header name to value")
    headers = {}
    for name, header_value in value.items():
        validate.name(name, "header_name", "header name", error=lambda msg: HttpOptionError(option, msg))
        text = "" if header_value is None else str(header_value)
        if any(ch in text for ch in "\r\n\0"):
            raise HttpOptionError(option, "the value of header %r contains a line break or NUL; remove it" % name)
        headers[name] = text
    return headers


class HeaderExpectation:
    """A response header must equal ``value`` exactly, or match ``regex`` (re.search)."""

    __slots__ = ("name", "value", "regex")

    def __init__(self, name: str, value: Optional[str] = None, regex: Optional[re.Pattern[str]] = None) -> None:
        self.name = name
        self.value = value
        self.regex = regex

    def describe(self) -> str:
        return "matching /%s/" % self.regex.pattern if self.regex is not None else "%r" % self.value


def parse_header_expectations(value: Any, option: str) -> List[HeaderExpectation]:
    """``{name: "exact"}`` or ``{name: {"regex": "..."}}`` (or ``{"value": "..."}``)."""
    if not value:
        return []
    if not isinstance(value, dict):
        raise HttpOptionError(option, "expected a mapping of header name to expected value, got %r" % (value,))
    result = []
    for name, expected in value.items():
        validate.name(name, "header_name", "header name", error=lambda msg: HttpOptionError(option, msg))
        if isinstance(expected, dict):
            keys = set(expected)
            if len(keys) != 1 or not keys <= {"value", "regex"}:
                raise HttpOptionError(
                    option,
                    "header %r: give either a string (exact match), {value: ...} or {regex: ...}, got %r"
                    % (name, expected),
                )
            if "regex" in expected:
                result.append(
                    HeaderExpectation(name, regex=compile_regex(expected["regex"], "%s.%s.regex" % (option, name)))
                )
            else:
                result.append(HeaderExpectation(name, value=scalar_text(expected["value"])))
        elif isinstance(expected, (list, tuple)):
            raise HttpOptionError(option, "header %r: expected a string or {regex: ...}, got a list" % name)
        else:
            result.append(HeaderExpectation(name, value=scalar_text(expected)))
    return result


def validate_status_codes(value: Any, option: str) -> List[int]:
    if value is None:
        return [200]
    codes = list(value) if isinstance(value, (list, tuple)) else [value]
    if not codes:
        raise HttpOptionError(option, "give at least one expected status code, e.g. [200]")
    result = []
    for code in codes:
        try:
            number = int(code)
        except (TypeError, ValueError):
            raise HttpOptionError(option, "status code %r is not a number" % (code,)) from None
        if not 100 <= number <= 599:
            raise HttpOptionError(option, "status code %r is outside 100-599" % (code,))
        result.append(number)
    return result


def validate_tls_files(ca_path: Optional[str], client_cert: Optional[str], client_key: Optional[str]) -> None:
    for option, path in (("ca_path", ca_path), ("client_cert", client_cert), ("client_key", client_key)):
        if path is not None and not os.path.exists(path):
            raise HttpOptionError(option, "file %r does not exist" % path)
    if client_key is not None and client_cert is None:
        raise HttpOptionError("client_key", "client_key %r needs client_cert as well" % client_key)


def join_url(base_url: str, path: str) -> str:
    """``https://lb/app`` + ``/health`` -> ``https://lb/app/health`` (urljoin would drop ``/app``)."""
    if not path:
        return base_url
    return base_url.rstrip("/") + "/" + path.lstrip("/")


# --------------------------------------------------------------------------
# The request a check sends and what its answer must look like.


class TLSOptions:
    __slots__ = ("validate_certs", "ca_path", "client_cert", "client_key")

    def __init__(
        self,
        validate_certs: bool = True,
        ca_path: Optional[str] = None,
        client_cert: Optional[str] = None,
        client_key: Optional[str] = None,
    ) -> None:
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.client_cert = client_cert
        self.client_key = client_key


class VersionExpectation:
    """The release that answers must be ``value``: read from a header or a JSON path."""

    __slots__ = ("value", "header", "json_path", "json_path_text")

    def __init__(self, value: str, header: Optional[str] = None, json_path: Optional[str] = None) -> None:
        self.value = value
        self.header = header
        self.json_path_text = json_path
        self.json_path = parse_json_path(json_path, "version_json_path") if json_path else None


class Expectations:
    def __init__(
        self,
        status_codes: Optional[Sequence[int]] = None,
        body_regex: Optional[re.Pattern[str]] = None,
        json_fields: Optional[Dict[str, Tuple[Tuple[str, ...], Any]]] = None,
        headers: Optional[List[HeaderExpectation]] = None,
        max_latency_ms: Optional[float] = None,
        version: Optional[VersionExpectation] = None,
    ) -> None:
        self.status_codes = list(status_codes) if status_codes is not None else [200]
        self.body_regex = body_regex
        self.json_fields = json_fields or {}
        self.headers = headers or []
        self.max_latency_ms = max_latency_ms
        self.version = version

    @property
    def needs_body(self) -> bool:
        return bool(self.body_regex is not None or self.json_fields or (self.version and self.version.json_path))


class CheckSpec:
    """One request and what its answer must look like."""

    def __init__(
        self,
        url: str,
        method: str = "GET",
        headers: Optional[Dict[str, str]] = None,
        body: Any = None,
        timeout: float = 10.0,
        tls: Optional[TLSOptions] = None,
        follow_redirects: bool = False,
        expect: Optional[Expectations] = None,
    ) -> None:
        self.url = url
        #: ``url`` as results and messages show it: no user-info.
        self.shown_url = redact(url)
        self.method = method.upper()
        self.headers = dict(headers or {})
        #: What the request carries that an answer may echo back (the URL's credentials, the header values, the
        #: body's strings): masked in reasons and body snippets before they are cut to length, so that not even a
        #: prefix of a secret is shown.
        self.secrets = url_secrets(url) + [v for v in self.headers.values() if v] + _strings(body)
        self.timeout = timeout
        self.tls = tls or TLSOptions()
        self.follow_redirects = follow_redirects
        self.expect = expect or Expectations()
        self.is_tcp = urlsplit(url).scheme.lower() == "tcp"
        if self.method not in HTTP_METHODS:
            raise HttpOptionError("method", "unsupported method %r; use one of %s" % (method, ", ".join(HTTP_METHODS)))
        if self.method == "HEAD" and self.expect.needs_body:
            raise HttpOptionError(
                "method", "a HEAD answer has no body, so body_regex and json cannot match; use GET for %s" % url
            )
        if self.is_tcp:
            e = self.expect
            if e.body_regex is not None or e.json_fields or e.headers or e.version or body is not None:
                raise HttpOptionError(
                    "url", "%r is a plain TCP target: body, JSON and header checks need an http(s):// URL" % url
                )
        # A dict or list body is sent as JSON; a string as it is.
        if isinstance(body, (dict, list)):
            self.body: Optional[bytes] = json.dumps(body).encode("utf-8")
            if not any(k.lower() == "content-type" for k in self.headers):
                self.headers["Content-Type"] = "application/json"
        elif body is None:
            self.body = None
        else:
            self.body = str(body).encode("utf-8")


def _strings(value: Any) -> List[str]:
    """The non-empty strings in a request body (a string, or a JSON mapping or list)."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _strings(item)]
    return []


def scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)
