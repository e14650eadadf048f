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

from ansible_collections.zerodown.deploy.plugins.module_utils._module import run_module  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.probe import smoke  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.options import (  # noqa: E402
    HTTP_CLIENT_ARGUMENT_SPEC,
    HTTP_METHODS,
)


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
    run_module(argument_spec, smoke.run, required_by={"client_key": "client_cert"})


if __name__ == "__main__":
    main()
