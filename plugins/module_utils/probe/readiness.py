# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the readiness rule, and the ``readiness_probe`` module's engine.

A target is ready after N consecutive successful checks; every target is probed concurrently (one thread each)
against one shared deadline, on top of ``wait_until``. ``build_readiness_specs`` and ``wait_ready`` are shared
with the release module's ``ready``; ``run`` is ``readiness_probe``'s body.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import redact, scrub, secrets_in
from ansible_collections.zerodown.deploy.plugins.module_utils._wait import WaitTimeout, wait_until
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.checks import CheckResult, HttpChecker
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.options import (
    HTTP_CLIENT_ARGUMENT_SPEC,
    CheckSpec,
    Expectations,
    HttpOptionError,
    TLSOptions,
    compile_regex,
    option_number,
    parse_header_expectations,
    parse_json_expectations,
    validate_headers,
    validate_status_codes,
    validate_tls_files,
    validate_url,
)

#: A readiness result keeps the most recent attempts only (``attempt_count`` has them all).
MAX_REPORTED_ATTEMPTS = 50
#: No attempt is given less time than this; none starts when less than this is left.
MIN_ATTEMPT_TIMEOUT = 0.25


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


def run(params: Dict[str, Any], check_mode: bool) -> Dict[str, Any]:
    """The readiness_probe module: probe every URL until it is ready; not ready (or a bad option) fails the module.

    Probing changes nothing, so check mode probes too."""
    # Credentials in a URL's user-info are masked wherever they would appear (results, messages, invocation).
    secrets = secrets_in(params)
    try:
        specs, timeout, interval, successes = build_readiness_specs(params)
    except HttpOptionError as exc:
        msg = redact("readiness_probe: %s" % exc, secrets)
        raise ModuleFailure(msg, ready=False, elapsed=0.0, results=[]) from exc
    outcome = scrub(wait_ready(HttpChecker(), specs, timeout, interval, successes), secrets)
    if not outcome["ready"]:
        raise ModuleFailure("readiness_probe: %s" % outcome.pop("msg"), outcome)
    return dict(changed=False, **outcome)
