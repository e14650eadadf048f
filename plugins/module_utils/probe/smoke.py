# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the ``smoke_test`` module's engine.

Named checks against one base URL (``build_checks`` validates the module's options and builds them), repeated for
some rounds, every failure reported (``run_smoke_test``, ``smoke_failure_message``); ``run`` is the module's body.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import redact, scrub, secrets_in
from ansible_collections.zerodown.deploy.plugins.module_utils.probe import options
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.checks import HttpChecker
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.options import (
    SAFE_METHODS,
    CheckSpec,
    Expectations,
    HttpOptionError,
    TLSOptions,
    VersionExpectation,
)


class NamedCheck:
    __slots__ = ("name", "spec")

    def __init__(self, name: str, spec: CheckSpec) -> None:
        self.name = name
        self.spec = spec


def build_checks(params: Dict[str, Any]) -> List[NamedCheck]:
    """Validate every option and build the named checks; raises HttpOptionError."""
    base_url = options.validate_url(params["base_url"], "base_url")
    options.option_number(params["rounds"], "rounds", validate.REPEATS)
    request_timeout = options.option_number(params["request_timeout"], "request_timeout", validate.TIMEOUT)
    common_headers = options.validate_headers(params["headers"], "headers")
    options.validate_tls_files(params["ca_path"], params["client_cert"], params["client_key"])
    tls = TLSOptions(params["validate_certs"], params["ca_path"], params["client_cert"], params["client_key"])
    version = _version_expectation(params)
    if not params["checks"]:
        raise HttpOptionError("checks", "give at least one check")
    checks = []
    seen = set()
    for index, check in enumerate(params["checks"]):
        name = check["name"]
        where = "checks[%d]" % index
        if not name or not name.strip():
            raise HttpOptionError(where + ".name", "every check needs a non-empty name")
        if name in seen:
            raise HttpOptionError(where + ".name", "check name %r is used twice; names must be unique" % name)
        seen.add(name)
        where = "checks[%r]" % name
        path = check["path"] or ""
        if "://" in path.split("?", 1)[0]:
            raise HttpOptionError(where + ".path", "%r must be a path such as /health, not a URL; set base_url" % path)
        url = options.validate_url(options.join_url(base_url, path), where + ".path")
        max_latency_ms = None
        if check["max_latency_ms"] is not None:
            max_latency_ms = options.option_number(
                check["max_latency_ms"], where + ".max_latency_ms", validate.MILLISECONDS
            )
        check_version = version if check["check_version"] else None
        if check_version is not None and check_version.json_path is not None and check["method"] == "HEAD":
            raise HttpOptionError(
                where,
                "a HEAD answer has no body, so version_json_path cannot be read; set check_version: false on it",
            )
        headers = dict(common_headers)
        headers.update(options.validate_headers(check["headers"], where + ".headers"))
        expect = Expectations(
            status_codes=options.validate_status_codes(check["status_codes"], where + ".status_codes"),
            body_regex=options.compile_regex(check["body_regex"], where + ".body_regex"),
            json_fields=options.parse_json_expectations(check["json"], where + ".json"),
            headers=options.parse_header_expectations(check["expect_header"], where + ".expect_header"),
            max_latency_ms=max_latency_ms,
            version=check_version,
        )
        spec = CheckSpec(
            url,
            method=check["method"],
            headers=headers,
            body=check["body"],
            timeout=request_timeout,
            tls=tls,
            follow_redirects=params["follow_redirects"],
            expect=expect,
        )
        checks.append(NamedCheck(name, spec))
    return checks


def _version_expectation(params: Dict[str, Any]) -> Optional[VersionExpectation]:
    """What ``expect_version`` asks of every check that has ``check_version``, or None."""
    if params["expect_version"] is None:
        return None
    if not params["expect_version"].strip():
        raise HttpOptionError("expect_version", "must not be empty; give the release id, e.g. '2.4.1'")
    if params["version_json_path"]:
        options.parse_json_path(params["version_json_path"], "version_json_path")
    elif not params["version_header"]:
        raise HttpOptionError("version_header", "give the response header that carries the version")
    else:
        options.parse_header_expectations({params["version_header"]: ""}, "version_header")
    return VersionExpectation(
        params["expect_version"].strip(),
        header=None if params["version_json_path"] else params["version_header"],
        json_path=params["version_json_path"] or None,
    )


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


def run(params: Dict[str, Any], check_mode: bool) -> Dict[str, Any]:
    """The smoke_test module: every check for some rounds; any failure fails the module, every failure named.

    In check mode the checks whose method may change the application are skipped."""
    # Credentials in a URL's user-info are masked wherever they would appear (results, messages, invocation).
    secrets = secrets_in(params)
    try:
        checks = build_checks(params)
    except HttpOptionError as exc:
        raise ModuleFailure(
            redact("smoke_test: %s" % exc, secrets),
            passed=False,
            elapsed=0.0,
            checks=[],
            rounds=[],
            failed_checks=[],
            skipped_checks=[],
        ) from exc
    outcome = scrub(run_smoke_test(HttpChecker(), checks, rounds=params["rounds"], safe_only=check_mode), secrets)
    if not outcome["passed"]:
        raise ModuleFailure("smoke_test: %s" % smoke_failure_message(outcome), outcome)
    return dict(changed=False, **outcome)
