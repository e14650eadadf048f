# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the one urllib transport of the HTTP checks.

The only part of the probe that touches the network (unit tests pass a fake transport to ``HttpChecker``). It
uses the standard library alone, so the checks run on managed hosts too (docs/architecture.md, "Where logic
lives"). Network failures raise ``TransportError`` with a one-line cause, URL user-info masked.
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
import ssl
import threading
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import redact
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.options import CheckSpec, TLSOptions

#: Bytes of a response body kept for assertions; bigger bodies are cut here.
MAX_BODY_BYTES = 1024 * 1024
#: Characters of the body quoted in a failure reason.
SNIPPET_CHARS = 200


class TransportError(Exception):
    """The request got no HTTP answer (refused, timed out, TLS failure, ...)."""


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


def snippet_of(text: str, limit: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


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
