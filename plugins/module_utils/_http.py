# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the HTTP probe/check engine.

``readiness_probe`` and ``smoke_test`` both send one request and judge the
answer against a set of expectations (status codes, body regex, JSON fields,
response headers, latency, served version). That single request-and-judge
step lives here, in ``HttpChecker.check``, so the two modules agree on what
"healthy" means and on how a failure is explained. ``probe_until_ready``
adds the readiness rule (N consecutive successes per target before one
deadline, all targets probed concurrently) on top of ``wait_until``.

Nothing here knows AnsibleModule: bad options raise ``HttpOptionError``
(naming the option and the bad value), which the modules turn into
``fail_json``; network failures never raise, they become a failed
``CheckResult`` with a short reason.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import deque
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import redact, url_secrets
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import Clock, WaitTimeout, wait_until

#: Bytes of a response body kept for assertions; bigger bodies are cut here.
MAX_BODY_BYTES = 1024 * 1024
#: Characters of the body quoted in a failure reason.
SNIPPET_CHARS = 200
#: A readiness result keeps the most recent attempts only (``attempt_count`` has them all).
MAX_REPORTED_ATTEMPTS = 50
#: No attempt is given less time than this; none starts when less than this is left.
MIN_ATTEMPT_TIMEOUT = 0.25

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


class TransportError(Exception):
    """The request got no HTTP answer (refused, timed out, TLS failure, ...)."""


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
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise HttpOptionError(option, "URL %r contains whitespace or control characters; percent-encode them" % value)
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # "http://[::1/": an IPv6 host with no closing bracket
        raise HttpOptionError(
            option, "URL %r cannot be parsed (%s); write an IPv6 host in brackets, http://[::1]:8080/" % (value, exc)
        ) from None
    if parts.scheme.lower() not in schemes:
        raise HttpOptionError(option, "URL %r must start with %s" % (value, wanted))
    try:
        port = parts.port
    except ValueError:
        raise HttpOptionError(option, "URL %r has an invalid port; use a number from 1 to 65535" % value) from None
    if not parts.hostname:
        raise HttpOptionError(
            option, "URL %r has no host name; write it as %s://HOST[:PORT]/..." % (value, parts.scheme)
        )
    if parts.scheme.lower() == "tcp":
        if port is None or port == 0:
            raise HttpOptionError(option, "URL %r needs a port: write it as tcp://HOST:PORT" % value)
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise HttpOptionError(option, "URL %r: a tcp:// target is only tcp://HOST:PORT" % value)
    elif port == 0:
        raise HttpOptionError(option, "URL %r has an invalid port; use a number from 1 to 65535" % value)
    return value


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
                result.append(HeaderExpectation(name, value=_scalar_text(expected["value"])))
        elif isinstance(expected, (list, tuple)):
            raise HttpOptionError(option, "header %r: expected a string or {regex: ...}, got a list" % name)
        else:
            result.append(HeaderExpectation(name, value=_scalar_text(expected)))
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
# Requests, responses and results.


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


class RawResponse:
    __slots__ = ("status", "headers", "body", "encoding")

    def __init__(self, status: int, headers: Dict[str, str], body: bytes = b"", encoding: Optional[str] = None) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body
        self.encoding = encoding

    def text(self) -> str:
        try:
            return self.body.decode(self.encoding or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.body.decode("utf-8", errors="replace")


class CheckResult:
    """What one request found. ``reason`` says why it failed, quoting the body."""

    __slots__ = ("url", "method", "status", "latency_ms", "ok", "reason", "reasons", "error", "snippet", "version")

    def __init__(self, url: str, method: str) -> None:
        self.url = url
        self.method = method
        self.status: Optional[int] = None
        self.latency_ms: Optional[float] = None
        self.ok = False
        self.reason: Optional[str] = None
        self.reasons: List[str] = []
        self.error: Optional[str] = None
        self.snippet: Optional[str] = None
        self.version: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return {
            "url": self.url,
            "method": self.method,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "ok": self.ok,
            "reason": self.reason,
            "reasons": list(self.reasons),
            "error": self.error,
            "version": self.version,
        }


def _strings(value: Any) -> List[str]:
    """The non-empty strings in a request body (a string, or a JSON mapping or list)."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _strings(item)]
    return []


def snippet_of(text: str, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def json_values_equal(actual: Any, expected: Any) -> bool:
    """Equal as JSON, or equal as text when one side is a string (Ansible templating yields strings)."""
    if isinstance(actual, (dict, list)) or isinstance(expected, (dict, list)):
        return bool(actual == expected)
    if isinstance(actual, str) or isinstance(expected, str):
        return _scalar_text(actual) == _scalar_text(expected)
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    return bool(actual == expected)


_MISSING = object()
#: A list index in a JSON path: ASCII digits only (str.isdigit would take '١').
_INDEX = re.compile(r"-?[0-9]+")


def _is_index_of(segment: str, node: List[Any]) -> bool:
    # no list holds 10**18 items; a longer run of digits is no index of it (and int() refuses 4,300 digits)
    return bool(_INDEX.fullmatch(segment)) and len(segment) <= 19 and -len(node) <= int(segment) < len(node)


def lookup_json_path(document: Any, path: Tuple[str, ...]) -> Any:
    node = document
    for segment in path:
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and _is_index_of(segment, node):
            node = node[int(segment)]
        else:
            return _MISSING
    return node


# --------------------------------------------------------------------------
# Transport: the only part that touches the network (unit tests pass a fake).


#: Redirects followed at most for one check (requests' limit, kept when the engine moved off it).
MAX_REDIRECTS = 30
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> Tuple[str, str, Optional[int]]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def keeps_credentials(old_url: str, new_url: str) -> bool:
    """Whether a redirect from ``old_url`` to ``new_url`` may carry the Authorization header along.

    Only to the same origin (scheme, host, port; a default port written or not), or from http to https on
    the same host with default ports: credentials never go to a host, port or scheme the user did not name.
    """
    old, new = _origin(old_url), _origin(new_url)
    if old == new:
        return True
    return old[1] == new[1] and (old[0], old[2], new[0], new[2]) == ("http", 80, "https", 443)


def headers_after_redirect(headers: Dict[str, str], old_url: str, new_url: str) -> Dict[str, str]:
    """The request headers that may go on from ``old_url`` to ``new_url`` when the first redirects there.

    All of them where ``keeps_credentials`` lets credentials go (the same origin, or http to https on the same
    host), none elsewhere: any header may carry a credential (X-Api-Key, a session cookie, Authorization) meant
    for the host the user named, and a redirect may name any host. A URL that does not parse is another origin.
    """
    try:
        return dict(headers) if keeps_credentials(old_url, new_url) else {}
    except ValueError:
        return {}


def redirect_target(method: str, url: str, status: int, location: str) -> Tuple[str, str, bool]:
    """(method, URL, keep_body) of the request a redirect answer asks for.

    303 turns anything but HEAD into GET, so do 302 and a 301 after a POST (what browsers do); only 307 and
    308 repeat the method with its body.
    """
    target = urljoin(url, location.strip())
    if status == 303 and method != "HEAD":
        method = "GET"
    elif status == 302 and method != "HEAD":
        method = "GET"
    elif status == 301 and method == "POST":
        method = "GET"
    return method, target, status in (307, 308)


def tls_context(tls: TLSOptions) -> ssl.SSLContext:
    """The TLS settings of a check: verification on unless validate_certs is false; ca_path a file or a directory."""
    if tls.validate_certs:
        if tls.ca_path and os.path.isdir(tls.ca_path):
            context = ssl.create_default_context(capath=tls.ca_path)
        else:
            context = ssl.create_default_context(cafile=tls.ca_path or None)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.client_cert:
        context.load_cert_chain(tls.client_cert, tls.client_key or None)
    return context


def without_userinfo(url: str) -> Tuple[str, Optional[str]]:
    """(the URL without ``user:password@``, the Basic Authorization value it stood for, or None).

    ``http://user:secret@host/`` means Basic authentication, as curl and requests take it; urllib would read
    the user-info as part of the host name.
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, hostport = parts.netloc.rsplit("@", 1)
    user, password = (userinfo.split(":", 1) + [""])[:2]
    token = base64.b64encode(("%s:%s" % (unquote(user), unquote(password))).encode("utf-8")).decode("ascii")
    return urlunsplit(parts._replace(netloc=hostport)), "Basic " + token


def _with_url_credentials(url: str, headers: Dict[str, str]) -> Tuple[str, Dict[str, str]]:
    """The URL to send (no user-info) and the headers, with the user-info's Basic Authorization unless one is set."""
    url, basic = without_userinfo(url)
    if basic is not None and not any(k.lower() == "authorization" for k in headers):
        headers = dict(headers, Authorization=basic)
    return url, headers


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect answer is handed back as it is: the transport decides where (and with which headers) to go."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - urllib's hook
        return None


#: Request headers dropped with the body on a 301, 302 or 303 redirect (they describe a body no longer sent).
_BODY_HEADERS = ("content-type", "content-length", "transfer-encoding")


class UrllibTransport:
    """Sends one request with a fresh connection each time (no keep-alive pinning to one backend).

    Only the Python standard library (urllib, ssl, http.client): the engine runs on managed hosts (the release
    module's readiness probe runs on the app host itself), where nothing beyond Python and what Ansible sends
    with a module can be assumed. Proxies come from the environment (``https_proxy``, ``no_proxy``) as with
    every urllib client.
    """

    def http(self, spec: CheckSpec, timeout: float) -> RawResponse:
        """One request, bounded as a whole by ``timeout``.

        A socket timeout bounds each connect and each read, not the total: a server trickling its answer (or
        a slow DNS lookup) would outlive any deadline. So the request runs in a daemon thread that is abandoned
        once ``timeout`` has passed; it ends with its socket or with the process.
        """
        outcome: Dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["response"] = self._http(spec, timeout)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                outcome["error"] = exc

        worker = threading.Thread(target=work, name="zerodown-http", daemon=True)
        worker.start()
        worker.join(timeout)
        if "error" in outcome:
            raise outcome["error"]
        if "response" not in outcome:
            raise TransportError("timed out: no answer within %gs" % round(timeout, 2))
        return outcome["response"]

    def _http(self, spec: CheckSpec, timeout: float) -> RawResponse:
        try:
            # Built only when TLS can be needed: loading the CA store costs a few milliseconds per request.
            needs_tls = spec.follow_redirects or urlsplit(spec.url).scheme.lower() == "https"
            context = tls_context(spec.tls) if needs_tls else None
            opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirects())
            method, url, body, headers = spec.method, spec.url, spec.body, dict(spec.headers)
            url, headers = _with_url_credentials(url, headers)
            for _hop in range(MAX_REDIRECTS + 1):
                response = self._send(opener, method, url, body, headers, timeout)
                location = response.headers.get("location")
                if not (spec.follow_redirects and 300 <= response.status < 400 and location):
                    return response
                new_method, new_url, keep_body = redirect_target(method, url, response.status, location)
                kept = headers_after_redirect(headers, url, new_url)
                if keep_body:  # the headers that describe the body go with it
                    kept.update((k, v) for k, v in headers.items() if k.lower() in _BODY_HEADERS)
                headers = kept
                if not keep_body:
                    body = None
                    headers = {k: v for k, v in headers.items() if k.lower() not in _BODY_HEADERS}
                method = new_method
                url, headers = _with_url_credentials(new_url, headers)
            raise TransportError("more than %d redirects, the last to %s" % (MAX_REDIRECTS, url))
        except TransportError as exc:
            raise TransportError(redact(str(exc))) from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # refused, reset, timed out, TLS failures, an unreadable client key or CA file, a malformed answer
            raise TransportError(describe_exception(exc, timeout)) from exc

    @staticmethod
    def _send(opener, method: str, url: str, body: Optional[bytes], headers: Dict[str, str], timeout: float):
        if urlsplit(url).scheme.lower() not in ("http", "https"):  # never file: or ftp: through urllib's handlers
            raise TransportError("%r is not an http(s) URL" % url)
        request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 - http(s) only
        try:
            response = opener.open(request, timeout=timeout)
        except urllib.error.HTTPError as answer:  # 3xx, 4xx and 5xx: an answer to judge, not a transport failure
            response = answer
        try:
            raw = b"" if method == "HEAD" else (response.read(MAX_BODY_BYTES) or b"")
            message = response.headers
            # A header sent twice is one comma-separated value (RFC 9110), as requests gave it.
            headers_in = {name: ", ".join(message.get_all(name) or []) for name in dict.fromkeys(message.keys())}
            status = response.code if isinstance(response, urllib.error.HTTPError) else response.status
            return RawResponse(status, headers_in, raw, message.get_content_charset())
        finally:
            response.close()

    def tcp(self, host: str, port: int, timeout: float) -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except OSError as exc:
            raise TransportError(describe_exception(exc, timeout)) from exc


def _exception_chain(exc: BaseException) -> List[BaseException]:
    seen: List[BaseException] = []
    todo: List[Any] = [exc]
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.extend([getattr(item, "reason", None), item.__cause__, item.__context__])
        todo.extend(a for a in item.args if isinstance(a, BaseException))
    return seen


def describe_exception(exc: BaseException, timeout: float) -> str:
    """A one-line cause a human can act on, instead of urllib's nested repr; URL user-info masked."""
    return redact(_describe_exception(exc, timeout))


def _describe_exception(exc: BaseException, timeout: float) -> str:
    chain = _exception_chain(exc)
    if any(isinstance(e, socket.timeout) for e in chain):
        # urllib wraps what fails while connecting (the TLS handshake included) in URLError; a read that times
        # out raises as it is
        what = "connect" if isinstance(exc, urllib.error.URLError) else "answer"
        return "timed out: no %s within %gs" % (what, round(timeout, 2))
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            return "TLS certificate verification failed: %s" % (e.verify_message or e.reason or e)
    for e in chain:
        if isinstance(e, ssl.SSLError):
            return "TLS error: %s" % (e.reason or e)
    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, socket.gaierror):
            return "cannot resolve host name: %s" % e
        if isinstance(e, ConnectionResetError):
            return "connection reset by peer"
    text = str(exc)
    for e in chain:
        if isinstance(e, OSError) and e.strerror:
            text = e.strerror
            break
    return snippet_of("%s: %s" % (type(exc).__name__, text), 300)


# --------------------------------------------------------------------------
# Regular expressions on what a server sent, within the probe's deadline.

#: A regex run is given at least this long, even when the attempt's time is nearly spent: the child
#: interpreter that runs it needs some tens of milliseconds to start.
MIN_REGEX_SECONDS = 1.0

# The child: reads [[pattern, text], ...] as JSON, prints [matched, ...].
_REGEX_CHILD = (
    "import json, re, sys\nsys.stdout.write(json.dumps([re.search(p, t) is not None for p, t in json.load(sys.stdin)]))"
)


def search_bounded(jobs: Sequence[Tuple[re.Pattern[str], str]], seconds: float) -> List[Optional[bool]]:
    """``pattern.search(text)`` for each job, True/False, or None for all when they did not finish in ``seconds``.

    A user's pattern can take exponential time on the wrong text (``(a+)+$`` on thirty a's and a b), and the
    text comes from the server under test, so a regex check could hold the probe far past its deadline.
    Python's ``re`` has no timeout, and a thread cannot be stopped (nor interrupted by a signal: signals reach
    only the main thread, and probes run in threads). So the searches run in a child interpreter (``-I -S``:
    no site packages, no environment) that is killed when ``seconds`` pass: a bound that always holds, at the
    cost of one short-lived process per checked answer. The text is at most MAX_BODY_BYTES (the response body
    is cut there), so what the child is sent is bounded too. Without an interpreter to start (an embedded
    Python), the searches run here.
    """
    if not jobs:
        return []
    if not sys.executable:
        return [pattern.search(text) is not None for pattern, text in jobs]
    payload = json.dumps([[pattern.pattern, text] for pattern, text in jobs])
    try:
        child = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _REGEX_CHILD],
            input=payload.encode("utf-8", "surrogatepass"),
            capture_output=True,
            timeout=seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [None] * len(jobs)
    try:
        found = json.loads(child.stdout)
    except ValueError:
        found = None
    if child.returncode != 0 or not isinstance(found, list) or len(found) != len(jobs):
        # The child died (out of memory on the pattern, say): no answer, as on a timeout; never retried here,
        # where nothing would bound it.
        return [None] * len(jobs)
    return [bool(f) for f in found]


def _regex_timeout(what: str, pattern: re.Pattern[str], text: str, seconds: float) -> str:
    return (
        "%s /%s/ did not finish within %gs on %d characters (catastrophic backtracking?): simplify the pattern, "
        "e.g. no nested repeats such as (a+)+"
        % (what, validate.shown(pattern.pattern, 60)[1:-1], round(seconds, 2), len(text))
    )


# --------------------------------------------------------------------------
# The engine.


class HttpChecker:
    """Sends a CheckSpec and judges the answer; never raises for network trouble."""

    def __init__(self, transport: Any = None, clock: Optional[Clock] = None) -> None:
        self.transport = transport if transport is not None else UrllibTransport()
        self.clock = clock or Clock()

    def check(self, spec: CheckSpec, timeout: Optional[float] = None) -> CheckResult:
        timeout = spec.timeout if timeout is None else timeout
        result = CheckResult(spec.shown_url, "TCP" if spec.is_tcp else spec.method)
        start = self.clock.monotonic()
        try:
            if spec.is_tcp:
                parts = urlsplit(spec.url)
                self.transport.tcp(parts.hostname, parts.port, timeout)
                response = None
            else:
                response = self.transport.http(spec, timeout)
        except TransportError as exc:
            result.latency_ms = round((self.clock.monotonic() - start) * 1000.0, 1)
            result.error = str(exc)
            result.reasons = ["request failed: %s" % exc]
            result.reason = result.reasons[0]
            return result
        result.latency_ms = round((self.clock.monotonic() - start) * 1000.0, 1)
        regex_seconds = max(timeout - (self.clock.monotonic() - start), MIN_REGEX_SECONDS)
        reasons = [redact(r, spec.secrets) for r in self._judge(spec.expect, response, result, regex_seconds)]
        result.reasons = reasons
        result.ok = not reasons
        if reasons:
            reason = "; ".join(reasons)
            if response is not None:
                result.snippet = snippet_of(redact(response.text(), spec.secrets)) if response.body else ""
                reason += ("; response body: %r" % result.snippet) if response.body else "; empty response body"
            result.reason = reason
        return result

    def _judge(
        self,
        expect: Expectations,
        response: Optional[RawResponse],
        result: CheckResult,
        regex_seconds: float = MIN_REGEX_SECONDS,
    ) -> List[str]:
        reasons: List[str] = []
        if response is not None:
            result.status = response.status
            if response.status not in expect.status_codes:
                reasons.append("status %d not in %s" % (response.status, expect.status_codes))
            text = response.text() if expect.needs_body else ""
            # Every regex of this answer in one bounded run: (pattern, text) -> matched, or None when it ran out
            # of time (see search_bounded).
            jobs: List[Tuple[re.Pattern[str], str]] = []
            if expect.body_regex is not None:
                jobs.append((expect.body_regex, text))
            jobs += [
                (h.regex, response.headers[h.name.lower()])
                for h in expect.headers
                if h.regex is not None and h.name.lower() in response.headers
            ]
            found = dict(zip(jobs, search_bounded(jobs, regex_seconds)))
            if expect.body_regex is not None:
                matched = found[(expect.body_regex, text)]
                if matched is None:
                    reasons.append(_regex_timeout("body_regex", expect.body_regex, text, regex_seconds))
                elif not matched:
                    reasons.append("body does not match /%s/" % expect.body_regex.pattern)
            document: Any = _MISSING
            if expect.json_fields or (expect.version and expect.version.json_path):
                try:
                    document = validate.json_document(text, "response body")
                except ValueError as exc:
                    reasons.append(str(exc) if "nested deeper" in str(exc) else "response body is not JSON")
            if document is not _MISSING:
                for name, (path, expected) in expect.json_fields.items():
                    actual = lookup_json_path(document, path)
                    if actual is _MISSING:
                        reasons.append("JSON path %r not found in the response" % name)
                    elif not json_values_equal(actual, expected):
                        reasons.append("JSON %s is %s, expected %s" % (name, json.dumps(actual), json.dumps(expected)))
            for header in expect.headers:
                actual_header = response.headers.get(header.name.lower())
                if actual_header is None:
                    reasons.append("header %s missing (expected %s)" % (header.name, header.describe()))
                elif header.regex is not None and found[(header.regex, actual_header)] is None:
                    reasons.append(
                        _regex_timeout("header %s regex" % header.name, header.regex, actual_header, regex_seconds)
                    )
                elif header.regex is not None and not found[(header.regex, actual_header)]:
                    reasons.append("header %s is %r, expected %s" % (header.name, actual_header, header.describe()))
                elif header.regex is None and actual_header.strip() != header.value:
                    reasons.append("header %s is %r, expected %s" % (header.name, actual_header, header.describe()))
            if expect.version is not None:
                reasons.extend(self._judge_version(expect.version, response, document, result))
        if (
            expect.max_latency_ms is not None
            and result.latency_ms is not None
            and result.latency_ms > expect.max_latency_ms
        ):
            reasons.append("latency %gms above max_latency_ms %g" % (result.latency_ms, expect.max_latency_ms))
        return reasons

    @staticmethod
    def _judge_version(
        version: VersionExpectation, response: RawResponse, document: Any, result: CheckResult
    ) -> List[str]:
        if version.json_path is not None:
            where = "JSON %s" % version.json_path_text
            if document is _MISSING:
                return []  # "not JSON" is already reported
            found = lookup_json_path(document, version.json_path)
            if found is _MISSING:
                return [
                    "version: JSON path %r not found in the response (expected %r)"
                    % (version.json_path_text, version.value)
                ]
            served = _scalar_text(found)
        else:
            where = "header %s" % version.header
            header = response.headers.get((version.header or "").lower())
            if header is None:
                return ["version: header %s missing (expected %r)" % (version.header, version.value)]
            served = header.strip()
        result.version = served
        if served != version.value:
            return ["version: %s is %r, expected %r" % (where, served, version.value)]
        return []


# --------------------------------------------------------------------------
# Readiness: N consecutive successes per target, one deadline for all.


class TargetProgress:
    """What the probe learned about one target."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ready = False
        self.attempt_count = 0
        self.successes = 0
        self.failures = 0
        self.consecutive = 0
        self.time_to_ready: Optional[float] = None
        self.attempts: deque = deque(maxlen=MAX_REPORTED_ATTEMPTS)
        self.last: Optional[CheckResult] = None
        self.last_failure: Optional[CheckResult] = None
        self.broken: Optional[str] = None  # why probing stopped before the deadline (``broken`` said so)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "url": self.url,
            "ready": self.ready,
            "broken": self.broken,
            "attempt_count": self.attempt_count,
            "attempts": list(self.attempts),
            "attempts_truncated": self.attempt_count > len(self.attempts),
            "successes": self.successes,
            "failures": self.failures,
            "consecutive_successes": self.consecutive,
            "time_to_ready": self.time_to_ready,
            "last_reason": self.last_failure.reason if self.last_failure is not None else None,
        }

    def failure_message(self, successes_needed: int) -> str:
        if self.last_failure is None:
            return "%s: only %d of %d consecutive successes before the deadline (%d attempts, no failure)" % (
                self.url,
                self.consecutive,
                successes_needed,
                self.attempt_count,
            )
        return "%s: %d of %d consecutive successes after %d attempts (%d failed); last failure: %s" % (
            self.url,
            self.consecutive,
            successes_needed,
            self.attempt_count,
            self.failures,
            self.last_failure.reason,
        )


def probe_target(
    checker: HttpChecker,
    spec: CheckSpec,
    deadline: float,
    interval: float,
    successes: int,
    start: float,
    progress: Optional[TargetProgress] = None,
    broken: Optional[Callable[[], Optional[str]]] = None,
) -> TargetProgress:
    """Probe one target until ``successes`` consecutive checks pass or ``deadline`` (clock time) passes.

    ``broken``, asked after each failed check, returns why waiting longer is pointless (the service behind the
    target has exited, say) or None; a reason ends the wait at once, not ready, with the reason recorded.
    """
    clock = checker.clock
    progress = progress or TargetProgress(spec.shown_url)

    def attempt() -> bool:
        remaining = deadline - clock.monotonic()
        shortest = min(spec.timeout, MIN_ATTEMPT_TIMEOUT)
        if remaining < shortest and progress.attempt_count:
            # Too little time left for a fair attempt: a request cut short would
            # only hide the real reason of the previous failure.
            return False
        timeout = max(min(spec.timeout, remaining), shortest)
        result = checker.check(spec, timeout=timeout)
        progress.attempt_count += 1
        progress.last = result
        entry = result.to_dict()
        if spec.expect.version is None:
            del entry["version"]
        entry["attempt"] = progress.attempt_count
        entry["at"] = round(clock.monotonic() - start, 3)
        progress.attempts.append(entry)
        if result.ok:
            progress.successes += 1
            progress.consecutive += 1
        else:
            progress.failures += 1
            progress.consecutive = 0
            progress.last_failure = result
            progress.broken = broken() if broken is not None else None
        if progress.consecutive >= successes:
            progress.ready = True
            progress.time_to_ready = round(clock.monotonic() - start, 3)
        return progress.ready or progress.broken is not None

    try:
        wait_until(attempt, timeout=max(deadline - clock.monotonic(), 0.0), interval=interval, clock=clock)
    except WaitTimeout:
        pass
    return progress


def probe_until_ready(
    checker: HttpChecker,
    specs: Sequence[CheckSpec],
    timeout: float,
    interval: float,
    successes: int,
    thread_factory: Callable[..., threading.Thread] = threading.Thread,
    broken: Optional[Callable[[], Optional[str]]] = None,
) -> Tuple[bool, float, List[TargetProgress]]:
    """Probe every target concurrently (one thread each) against one shared deadline."""
    clock = checker.clock
    start = clock.monotonic()
    deadline = start + timeout
    progress = [TargetProgress(spec.shown_url) for spec in specs]
    errors: List[BaseException] = []

    def run(index: int) -> None:
        try:
            probe_target(checker, specs[index], deadline, interval, successes, start, progress[index], broken)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            errors.append(exc)

    if len(specs) == 1:
        run(0)
    else:
        threads = [thread_factory(target=run, args=(i,), daemon=True) for i in range(len(specs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    elapsed = round(clock.monotonic() - start, 3)
    return all(p.ready for p in progress), elapsed, progress


#: readiness_probe's options (the module documents them); the release module's ``ready`` takes a subset.
READINESS_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "url": {"type": "str"},
    "urls": {"type": "list", "elements": "str"},
    "timeout": {"type": "float", "default": 60},
    "interval": {"type": "float", "default": 1},
    "successes": {"type": "int", "default": 1},
    "request_timeout": {"type": "float", "default": 5},
    "method": {"type": "str", "default": "GET", "choices": ["GET", "HEAD"]},
    "status_codes": {"type": "list", "elements": "int", "default": [200]},
    "body_regex": {"type": "str"},
    "json": {"type": "dict"},
    "expect_header": {"type": "dict"},
    "max_latency_ms": {"type": "float"},
    "headers": {"type": "dict", "no_log": True},
}
_READINESS_DEFAULTS: Dict[str, Any] = {
    name: spec.get("default") for name, spec in dict(READINESS_ARGUMENT_SPEC, **HTTP_CLIENT_ARGUMENT_SPEC).items()
}


def build_readiness_specs(params: Dict[str, Any]) -> Tuple[List[CheckSpec], float, int, int]:
    """Validate readiness_probe's options and build one CheckSpec per URL; raises HttpOptionError.

    ``params`` holds READINESS_ARGUMENT_SPEC's and HTTP_CLIENT_ARGUMENT_SPEC's keys; a missing key takes
    its default, so a caller with a smaller option set (the release module's ``ready``) shares this.
    """
    params = dict(_READINESS_DEFAULTS, **{k: v for k, v in params.items() if v is not None})
    timeout = option_number(params["timeout"], "timeout", validate.TIMEOUT)
    interval = option_number(params["interval"], "interval", validate.INTERVAL)
    request_timeout = option_number(params["request_timeout"], "request_timeout", validate.TIMEOUT)
    successes = option_number(params["successes"], "successes", validate.REPEATS)
    if params["urls"] is not None:
        if not params["urls"]:
            raise HttpOptionError("urls", "give at least one URL")
        urls = [validate_url(u, "urls", allow_tcp=True) for u in params["urls"]]
        if len(set(urls)) != len(urls):
            duplicate = next(u for u in urls if urls.count(u) > 1)
            raise HttpOptionError("urls", "URL %r is listed twice" % duplicate)
    else:
        urls = [validate_url(params["url"], "url", allow_tcp=True)]
    max_latency_ms = None
    if params["max_latency_ms"] is not None:
        max_latency_ms = option_number(params["max_latency_ms"], "max_latency_ms", validate.MILLISECONDS)
    http_expect = Expectations(
        status_codes=validate_status_codes(params["status_codes"], "status_codes"),
        body_regex=compile_regex(params["body_regex"], "body_regex"),
        json_fields=parse_json_expectations(params["json"], "json"),
        headers=parse_header_expectations(params["expect_header"], "expect_header"),
        max_latency_ms=max_latency_ms,
    )
    tcp_expect = Expectations(max_latency_ms=max_latency_ms)
    if all(u.lower().startswith("tcp://") for u in urls):
        for option in ("body_regex", "json", "expect_header"):
            if params[option]:
                raise HttpOptionError(option, "only applies to http(s):// URLs, and every URL here is tcp://")
    headers = validate_headers(params["headers"], "headers")
    validate_tls_files(params["ca_path"], params["client_cert"], params["client_key"])
    tls = TLSOptions(params["validate_certs"], params["ca_path"], params["client_cert"], params["client_key"])
    specs = []
    for url in urls:
        is_tcp = url.lower().startswith("tcp://")
        specs.append(
            CheckSpec(
                url,
                method=params["method"],
                headers=None if is_tcp else headers,
                timeout=request_timeout,
                tls=tls,
                follow_redirects=params["follow_redirects"],
                expect=tcp_expect if is_tcp else http_expect,
            )
        )
    return specs, timeout, interval, successes


def wait_ready(
    checker: HttpChecker,
    specs: Sequence[CheckSpec],
    timeout: float,
    interval: float,
    successes: int,
    broken: Optional[Callable[[], Optional[str]]] = None,
) -> Dict[str, Any]:
    """Probe until ready; {ready, elapsed, results} plus, when not ready, ``msg`` naming every URL's reason.

    ``broken``: see ``probe_target``; when it ends the wait, ``msg`` starts with its reason.
    """
    ready, elapsed, progress = probe_until_ready(checker, specs, timeout, interval, successes, broken=broken)
    out: Dict[str, Any] = {"ready": ready, "elapsed": elapsed, "results": [p.to_dict() for p in progress]}
    reasons = [p.broken for p in progress if p.broken]
    if not ready and reasons:
        out["broken"] = reasons[0]
        out["msg"] = "gave up after %gs of the %gs timeout: %s" % (elapsed, timeout, reasons[0])
    elif not ready:
        not_ready = [p for p in progress if not p.ready]
        out["msg"] = "%d of %d URL(s) not ready within %gs: %s" % (
            len(not_ready),
            len(progress),
            timeout,
            " | ".join(p.failure_message(successes) for p in not_ready),
        )
    return out


# --------------------------------------------------------------------------
# Smoke tests: named checks, repeated for some rounds, every failure reported.


class NamedCheck:
    __slots__ = ("name", "spec")

    def __init__(self, name: str, spec: CheckSpec) -> None:
        self.name = name
        self.spec = spec


def run_smoke_test(
    checker: HttpChecker, checks: Sequence[NamedCheck], rounds: int = 1, safe_only: bool = False
) -> Dict[str, Any]:
    """Run every check ``rounds`` times, in order; with ``safe_only`` skip methods that may change the app.

    Returns ``passed``, per-check summaries (``checks``), per-round results
    (``rounds``), ``failed_checks``, ``skipped_checks`` and ``elapsed``.
    """
    clock = checker.clock
    start = clock.monotonic()
    summaries: List[Dict[str, Any]] = []
    for check in checks:
        skipped = safe_only and check.spec.method not in SAFE_METHODS
        summaries.append(
            {
                "name": check.name,
                "method": check.spec.method,
                "url": check.spec.shown_url,
                "passed": not skipped,
                "skipped": skipped,
                "rounds_passed": 0,
                "rounds_failed": 0,
                "reasons": [],
                "latency_ms_max": None,
            }
        )
    round_results = []
    for number in range(1, rounds + 1):
        results = []
        for check, summary in zip(checks, summaries):
            if summary["skipped"]:
                results.append(
                    {
                        "name": check.name,
                        "url": check.spec.shown_url,
                        "method": check.spec.method,
                        "ok": None,
                        "skipped": True,
                        "reason": "skipped in check mode: %s is not a safe method" % check.spec.method,
                    }
                )
                continue
            result = checker.check(check.spec)
            entry = result.to_dict()
            entry.update(name=check.name, skipped=False)
            results.append(entry)
            if result.latency_ms is not None and (
                summary["latency_ms_max"] is None or result.latency_ms > summary["latency_ms_max"]
            ):
                summary["latency_ms_max"] = result.latency_ms
            if result.ok:
                summary["rounds_passed"] += 1
            else:
                summary["rounds_failed"] += 1
                summary["passed"] = False
                summary["reasons"].append("round %d: %s" % (number, result.reason))
        round_results.append(
            {"round": number, "passed": all(r["ok"] for r in results if not r["skipped"]), "results": results}
        )
    failed = [s["name"] for s in summaries if not s["passed"] and not s["skipped"]]
    return {
        "passed": not failed,
        "checks": summaries,
        "rounds": round_results,
        "failed_checks": failed,
        "skipped_checks": [s["name"] for s in summaries if s["skipped"]],
        "elapsed": round(clock.monotonic() - start, 3),
    }


def smoke_failure_message(outcome: Dict[str, Any], max_reasons_per_check: int = 3) -> str:
    """Every failing check in one line; identical reasons from several rounds are said once."""
    failing = [s for s in outcome["checks"] if not s["passed"] and not s["skipped"]]
    run = [s for s in outcome["checks"] if not s["skipped"]]
    parts = []
    for summary in failing:
        by_reason: Dict[str, List[int]] = {}
        for round_result in outcome["rounds"]:
            for result in round_result["results"]:
                if result["name"] == summary["name"] and result["ok"] is False:
                    by_reason.setdefault(result["reason"], []).append(round_result["round"])
        texts = []
        for reason, numbers in list(by_reason.items())[:max_reasons_per_check]:
            label = "round" if len(numbers) == 1 else "rounds"
            texts.append("%s %s: %s" % (label, ",".join(str(n) for n in numbers), reason))
        if len(by_reason) > max_reasons_per_check:
            texts.append("and %d other reason(s)" % (len(by_reason) - max_reasons_per_check))
        total = summary["rounds_passed"] + summary["rounds_failed"]
        parts.append(
            "%r (%s %s) failed %d of %d round(s): %s"
            % (summary["name"], summary["method"], summary["url"], summary["rounds_failed"], total, "; ".join(texts))
        )
    return "%d of %d check(s) failed: %s" % (len(failing), len(run), " | ".join(parts))
