#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: smoke_test
short_description: Run a list of named HTTP checks against an entry point and report every failure
version_added: 0.1.0
description:
  - Sends each check in O(checks) to O(base_url) (typically the production entry point, through the load balancer)
    and judges the answer (status code, body regular expression, JSON fields, response headers and latency).
  - O(rounds) repeats the whole list, so that a load balancer spreads the requests over its backends.
  - O(expect_version) asserts that the new release is the one answering, on every response, from the
    O(version_header) header or from a JSON field (O(version_json_path)).
  - Checks run one after another, each on a fresh connection. When any check fails in any round, the module fails
    with a message that lists B(every) failing check with its reasons, not only the first.
  - The module never reports C(changed). In check mode only safe methods (GET, HEAD, OPTIONS) are sent; checks with
    other methods are reported as skipped, because they may change the application's data.
author:
  - zerodown.deploy contributors (@zerodown)
extends_documentation_fragment:
  - zerodown.deploy.http_client
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: partial
    details: In check mode only GET, HEAD and OPTIONS checks run; POST, PUT, PATCH and DELETE checks are skipped.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details: The module reports no change; whether the application's own data changes depends on the checks' requests.
options:
  base_url:
    description:
      - The entry point, C(http://) or C(https://), optionally with a path prefix (C(https://shop.example.com/api)).
      - Each check's O(checks[].path) is appended to it.
      - "User-info (C(https://user:pass@host)) is sent, but never shown: results and messages print
        C(https://********@host) and the password is masked wherever it would appear. Prefer an C(Authorization)
        header in O(headers)."
    type: str
    required: true
  checks:
    description:
      - The checks to run, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Unique name of the check, used in results and failure messages.
        type: str
        required: true
      path:
        description:
          - Path (and query string) appended to O(base_url).
        type: str
        default: /
      method:
        description:
          - HTTP method.
        type: str
        choices: [GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE]
        default: GET
      body:
        description:
          - Request body. A mapping or a list is sent as JSON (with C(Content-Type) C(application/json) unless
            O(checks[].headers) sets one); a string is sent as it is.
          - Not logged (it may carry credentials); its values are masked wherever they would appear in the result.
        type: raw
      headers:
        description:
          - Request headers for this check, added to (and overriding) O(headers). Not logged.
        type: dict
      status_codes:
        description:
          - Status codes that count as a pass.
        type: list
        elements: int
        default: [200]
      body_regex:
        description:
          - Python regular expression the response body must contain (C(re.search)).
        type: str
      json:
        description:
          - 'JSON fields the response body must have, as a mapping of dotted path to expected value,
            for example C({"status": "ok", "items.0.sku": "A-1"}). A numeric segment indexes a list.'
          - When one side is a string the values are compared as text. A missing path fails the check and is named.
        type: dict
      expect_header:
        description:
          - Response headers that must be present, as a mapping of header name to the exact value.
          - A mapping with a C(regex) key instead of a string matches a Python regular expression (C(re.search)).
        type: dict
      max_latency_ms:
        description:
          - The check fails when the answer takes longer than this many milliseconds.
        type: float
      check_version:
        description:
          - Apply O(expect_version) to this check. Set to false for answers that do not carry the version,
            such as static files served by the load balancer.
        type: bool
        default: true
  rounds:
    description:
      - How many times to run the whole list of checks.
    type: int
    default: 1
  expect_version:
    description:
      - The release that must answer every check (unless O(checks[].check_version=false)).
      - Read from the response header O(version_header), or from the JSON field O(version_json_path) when that is set.
    type: str
  version_header:
    description:
      - Response header that carries the release version. Ignored when O(version_json_path) is set.
    type: str
    default: X-App-Version
  version_json_path:
    description:
      - Dotted path of the JSON field that carries the release version, for example C(build.version).
      - When set, it is used instead of O(version_header); HEAD checks then need O(checks[].check_version=false).
    type: str
  headers:
    description:
      - Request headers sent with every check, for example an C(Authorization) header. Not logged.
    type: dict
  request_timeout:
    description:
      - Seconds one request may take (connect and answer) before the check fails.
    type: float
    default: 10
"""

EXAMPLES = r"""
- name: Smoke-test production through the load balancer, five rounds, new release everywhere
  zerodown.deploy.smoke_test:
    base_url: https://shop.example.com
    rounds: 5
    expect_version: "{{ zerodown_release }}"
    checks:
      - name: home page
        path: /
        body_regex: "<title>Shop</title>"
        max_latency_ms: 500
      - name: health
        path: /health
        json:
          status: ok
          checks.db: up
      - name: search API
        path: /api/search?q=socks
        status_codes: [200]
        json:
          results.0.kind: product
      - name: logo from the CDN cache
        path: /static/logo.png
        check_version: false

- name: Check a write path too (skipped in check mode)
  zerodown.deploy.smoke_test:
    base_url: https://shop.example.com/api
    headers:
      Authorization: "Bearer {{ smoke_token }}"
    ca_path: /etc/pki/internal-ca.pem
    expect_version: "{{ zerodown_release }}"
    version_json_path: build.version
    checks:
      - name: create basket
        method: POST
        path: /baskets
        body:
          items: []
        status_codes: [201]
  register: smoke

- name: Show the slowest answer of each check
  ansible.builtin.debug:
    msg: "{{ smoke.checks | items2dict(key_name='name', value_name='latency_ms_max') }}"
"""

RETURN = r"""
passed:
  description: Whether every check that ran passed in every round.
  returned: always
  type: bool
  sample: true
elapsed:
  description: Seconds spent running the checks.
  returned: always
  type: float
  sample: 0.734
failed_checks:
  description: Names of the checks that failed in at least one round.
  returned: always
  type: list
  elements: str
  sample: ["search API"]
skipped_checks:
  description: Names of the checks not run because of check mode (unsafe methods).
  returned: always
  type: list
  elements: str
  sample: ["create basket"]
checks:
  description: One summary per check, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check's name.
      type: str
      sample: health
    method:
      description: HTTP method.
      type: str
      sample: GET
    url:
      description: Full URL requested.
      type: str
      sample: https://shop.example.com/health
    passed:
      description: Whether the check passed in every round (false when skipped).
      type: bool
      sample: true
    skipped:
      description: Whether the check was skipped (check mode, unsafe method).
      type: bool
      sample: false
    rounds_passed:
      description: Rounds in which the check passed.
      type: int
      sample: 5
    rounds_failed:
      description: Rounds in which the check failed.
      type: int
      sample: 0
    reasons:
      description: Why the check failed, one item per failed round (C(round N:) followed by the reasons).
      type: list
      elements: str
      sample: ["round 2: version: header X-App-Version is '1.9.0', expected '2.0.0'; response body: 'ok'"]
    latency_ms_max:
      description: Slowest answer of this check over all rounds, in milliseconds; null if it never ran.
      type: float
      sample: 12.4
rounds:
  description: Every round with the result of every check.
  returned: always
  type: list
  elements: dict
  contains:
    round:
      description: Round number, from 1.
      type: int
      sample: 1
    passed:
      description: Whether every check that ran passed in this round.
      type: bool
      sample: true
    results:
      description: One result per check, in order.
      type: list
      elements: dict
      contains:
        name:
          description: The check's name.
          type: str
          sample: health
        url:
          description: Full URL requested.
          type: str
          sample: https://shop.example.com/health
        method:
          description: HTTP method.
          type: str
          sample: GET
        skipped:
          description: Whether the check was skipped in check mode.
          type: bool
          sample: false
        ok:
          description: Whether the check passed; null when skipped.
          type: bool
          sample: true
        status:
          description: HTTP status code; null when no answer came. Absent when skipped.
          type: int
          sample: 200
        latency_ms:
          description: Milliseconds from sending the request to having read the answer. Absent when skipped.
          type: float
          sample: 8.1
        version:
          description: Release version the answer carried (when O(expect_version) applied and it was found).
          type: str
          sample: 2.0.0
        reason:
          description: Why the check failed (every failed assertion, then a snippet of the body), or why it was skipped.
          type: str
          sample: "status 500 not in [200]; response body: 'Internal Server Error'"
        reasons:
          description: The failed assertions, one per item. Absent when skipped.
          type: list
          elements: str
          sample: ["status 500 not in [200]"]
        error:
          description: The network error when no HTTP answer came (refused, timed out, TLS failure). Absent when skipped.
          type: str
          sample: "timed out: no answer within 10s"
"""

from ansible.module_utils.basic import AnsibleModule, _load_params  # noqa: E402

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils._http import (  # noqa: E402
    HTTP_CLIENT_ARGUMENT_SPEC,
    HTTP_METHODS,
    CheckSpec,
    Expectations,
    HttpChecker,
    HttpOptionError,
    NamedCheck,
    TLSOptions,
    VersionExpectation,
    compile_regex,
    join_url,
    option_number,
    parse_header_expectations,
    parse_json_expectations,
    parse_json_path,
    run_smoke_test,
    smoke_failure_message,
    validate_headers,
    validate_status_codes,
    validate_tls_files,
    validate_url,
)
from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import redact, scrub, secrets_in  # noqa: E402


def build_checks(params: dict) -> list:
    """Validate every option and build the named checks; raises HttpOptionError."""
    base_url = validate_url(params["base_url"], "base_url")
    option_number(params["rounds"], "rounds", validate.REPEATS)
    request_timeout = option_number(params["request_timeout"], "request_timeout", validate.TIMEOUT)
    common_headers = validate_headers(params["headers"], "headers")
    validate_tls_files(params["ca_path"], params["client_cert"], params["client_key"])
    tls = TLSOptions(params["validate_certs"], params["ca_path"], params["client_cert"], params["client_key"])
    version = None
    if params["expect_version"] is not None:
        if not params["expect_version"].strip():
            raise HttpOptionError("expect_version", "must not be empty; give the release id, e.g. '2.4.1'")
        if params["version_json_path"]:
            parse_json_path(params["version_json_path"], "version_json_path")
        elif not params["version_header"]:
            raise HttpOptionError("version_header", "give the response header that carries the version")
        else:
            parse_header_expectations({params["version_header"]: ""}, "version_header")
        version = VersionExpectation(
            params["expect_version"].strip(),
            header=None if params["version_json_path"] else params["version_header"],
            json_path=params["version_json_path"] or None,
        )
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
        url = validate_url(join_url(base_url, path), where + ".path")
        max_latency_ms = None
        if check["max_latency_ms"] is not None:
            max_latency_ms = option_number(check["max_latency_ms"], where + ".max_latency_ms", validate.MILLISECONDS)
        check_version = version if check["check_version"] else None
        if check_version is not None and check_version.json_path is not None and check["method"] == "HEAD":
            raise HttpOptionError(
                where,
                "a HEAD answer has no body, so version_json_path cannot be read; set check_version: false on it",
            )
        headers = dict(common_headers)
        headers.update(validate_headers(check["headers"], where + ".headers"))
        expect = Expectations(
            status_codes=validate_status_codes(check["status_codes"], where + ".status_codes"),
            body_regex=compile_regex(check["body_regex"], where + ".body_regex"),
            json_fields=parse_json_expectations(check["json"], where + ".json"),
            headers=parse_header_expectations(check["expect_header"], where + ".expect_header"),
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


def main() -> None:
    check_options = dict(
        name=dict(type="str", required=True),
        path=dict(type="str", default="/"),
        method=dict(type="str", default="GET", choices=list(HTTP_METHODS)),
        body=dict(type="raw", no_log=True),
        headers=dict(type="dict", no_log=True),
        status_codes=dict(type="list", elements="int", default=[200]),
        body_regex=dict(type="str"),
        json=dict(type="dict"),
        expect_header=dict(type="dict"),
        max_latency_ms=dict(type="float"),
        check_version=dict(type="bool", default=True),
    )
    argument_spec = dict(
        base_url=dict(type="str", required=True),
        checks=dict(type="list", elements="dict", required=True, options=check_options),
        rounds=dict(type="int", default=1),
        expect_version=dict(type="str"),
        version_header=dict(type="str", default="X-App-Version"),
        version_json_path=dict(type="str"),
        headers=dict(type="dict", no_log=True),
        request_timeout=dict(type="float", default=10),
    )
    argument_spec.update(HTTP_CLIENT_ARGUMENT_SPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_by={"client_key": "client_cert"},
        supports_check_mode=True,
    )
    nul = validate.input_problem(module.params, module.argument_spec, _load_params())
    if nul:
        module.fail_json(msg=nul)
    # Credentials in a URL's user-info are masked wherever they would appear (results, messages, invocation).
    secrets = secrets_in(module.params)
    module.no_log_values.update(secrets)

    try:
        checks = build_checks(module.params)
    except HttpOptionError as exc:
        module.fail_json(
            msg=redact("smoke_test: %s" % exc, secrets),
            passed=False,
            elapsed=0.0,
            checks=[],
            rounds=[],
            failed_checks=[],
            skipped_checks=[],
        )

    outcome = scrub(
        run_smoke_test(HttpChecker(), checks, rounds=module.params["rounds"], safe_only=module.check_mode), secrets
    )
    if not outcome["passed"]:
        module.fail_json(msg="smoke_test: %s" % smoke_failure_message(outcome), **outcome)
    module.exit_json(changed=False, **outcome)


if __name__ == "__main__":
    main()
