#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: readiness_probe
short_description: Wait until one or many HTTP(S) or TCP endpoints answer healthy several times in a row
version_added: 0.1.0
description:
  - Probes one URL (O(url)) or several URLs at once (O(urls)) until each has answered healthy
    O(successes) times in a row, or fails when the overall deadline O(timeout) passes.
  - An C(http://) or C(https://) answer is healthy when its status is in O(status_codes) and, when set, the body
    matches O(body_regex), the JSON fields in O(json) have the expected values, the headers in O(expect_header)
    match, and it came within O(max_latency_ms).
  - A C(tcp://HOST:PORT) URL is healthy when a TCP connection opens (and, when set, within O(max_latency_ms)); the
    HTTP assertions apply to the C(http://) and C(https://) URLs only.
  - Every URL is probed concurrently, each in its own thread, against the same deadline. A failed attempt resets
    that URL's count of consecutive successes, so a flapping backend is not declared ready.
  - Each attempt uses a fresh connection, waits at most O(request_timeout) and never runs past the deadline, so the
    module returns within O(timeout) plus a fraction of a second.
  - On failure the message names each URL that was not ready, the condition that failed last and a snippet of its
    last response body.
  - The module only reads; it never reports C(changed).
author:
  - zerodown.deploy contributors (@zerodown)
extends_documentation_fragment:
  - zerodown.deploy.http_client
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The probe only sends O(method) requests (GET or HEAD), so in check mode it runs exactly as normal.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details: Read-only; C(changed) is always false.
options:
  url:
    description:
      - The URL to probe, C(http://), C(https://) or C(tcp://HOST:PORT).
      - Exactly one of O(url) and O(urls) is required.
      - "User-info (C(https://user:pass@host)) is sent, but never shown: results and messages print
        C(https://********@host) and the password is masked wherever it would appear."
    type: str
  urls:
    description:
      - Several URLs to probe at the same time; all must become ready before the one deadline.
      - Exactly one of O(url) and O(urls) is required.
    type: list
    elements: str
  timeout:
    description:
      - Overall deadline in seconds for every URL to become ready.
    type: float
    default: 60
  interval:
    description:
      - Seconds between two attempts on the same URL.
    type: float
    default: 1
  successes:
    description:
      - Number of consecutive healthy answers each URL must give. A failure resets the count.
    type: int
    default: 1
  request_timeout:
    description:
      - Seconds one attempt may take (connect and answer). The last attempt is cut short by the deadline.
    type: float
    default: 5
  method:
    description:
      - HTTP method of the probe requests. Only safe methods are offered.
    type: str
    choices: [GET, HEAD]
    default: GET
  status_codes:
    description:
      - Status codes that count as healthy.
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
        for example C({"status": "ok", "checks.db": "up"}).'
      - A numeric segment indexes a list (C(items.0.state)); write a literal dot in a key as C(\.).
      - Values are compared as JSON; when one side is a string the two are compared as text, so C("2") matches C(2).
      - A path that the response does not have is a failure that names the path.
    type: dict
  expect_header:
    description:
      - Response headers that must be present, as a mapping of header name to the expected value.
      - A string value must equal the header exactly (surrounding white space ignored).
      - A mapping with a C(regex) key instead of a string matches a Python regular expression (C(re.search));
        see the examples.
      - 'Use it to make sure the new release is the one answering, for example C({"X-App-Version": "2.4.1"}).'
    type: dict
  max_latency_ms:
    description:
      - An answer slower than this many milliseconds does not count as healthy.
    type: float
  headers:
    description:
      - Request headers to send, for example an C(Authorization) header.
      - Not logged, because they usually carry credentials.
    type: dict
"""

EXAMPLES = r"""
- name: Gate the batch on the new release answering healthy three times in a row
  zerodown.deploy.readiness_probe:
    url: "http://{{ ansible_host }}:8080/health"
    timeout: 90
    interval: 0.5
    successes: 3
    json:
      status: ok
      checks.db: up
    expect_header:
      X-App-Version: "{{ zerodown_release }}"
  delegate_to: localhost

- name: Wait for several backends at once, over TLS with a private CA
  zerodown.deploy.readiness_probe:
    urls:
      - https://app1.internal:8443/ready
      - https://app2.internal:8443/ready
    ca_path: /etc/pki/internal-ca.pem
    status_codes: [200, 204]
    headers:
      Authorization: "Bearer {{ probe_token }}"
    timeout: 120

- name: Wait until the database port accepts connections
  zerodown.deploy.readiness_probe:
    url: tcp://db.internal:5432
    timeout: 30

- name: Accept any 2.x release, answered within 300 ms
  zerodown.deploy.readiness_probe:
    url: https://app.example.com/health
    client_cert: /etc/pki/probe.pem
    client_key: /etc/pki/probe.key
    expect_header:
      X-App-Version:
        regex: '^2\.'
    max_latency_ms: 300
  register: probe

- name: Show how long it took
  ansible.builtin.debug:
    msg: "ready after {{ probe.elapsed }} s"
"""

RETURN = r"""
ready:
  description: Whether every URL became ready before the deadline (false only in a failed result).
  returned: always
  type: bool
  sample: true
elapsed:
  description: Seconds from the first attempt until the module finished probing.
  returned: always
  type: float
  sample: 2.514
results:
  description: One entry per probed URL, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    url:
      description: The URL probed.
      type: str
      sample: http://10.0.0.5:8080/health
    ready:
      description: Whether this URL reached O(successes) consecutive healthy answers before the deadline.
      type: bool
      sample: true
    time_to_ready:
      description: Seconds from the start until this URL became ready; null if it never did.
      type: float
      sample: 1.502
    attempt_count:
      description: Number of attempts made on this URL.
      type: int
      sample: 7
    successes:
      description: Number of healthy answers (consecutive or not).
      type: int
      sample: 3
    failures:
      description: Number of failed attempts.
      type: int
      sample: 4
    consecutive_successes:
      description: Healthy answers in a row at the end of probing.
      type: int
      sample: 3
    last_reason:
      description: Why the most recent failed attempt failed; null if none failed.
      type: str
      sample: "status 503 not in [200]; response body: '{\"status\": \"starting\"}'"
    attempts_truncated:
      description: True when RV(results[].attempt_count) is larger than the attempts kept in RV(results[].attempts).
      type: bool
      sample: false
    attempts:
      description: The most recent attempts (at most 50), oldest first.
      type: list
      elements: dict
      contains:
        attempt:
          description: Attempt number, from 1.
          type: int
          sample: 4
        at:
          description: Seconds since the start of probing when the attempt finished.
          type: float
          sample: 1.503
        url:
          description: The URL probed.
          type: str
          sample: http://10.0.0.5:8080/health
        method:
          description: HTTP method, or C(TCP) for a connection check.
          type: str
          sample: GET
        status:
          description: HTTP status code; null for a TCP check or when no answer came.
          type: int
          sample: 200
        latency_ms:
          description: Milliseconds from sending the request to having read the answer.
          type: float
          sample: 3.2
        ok:
          description: Whether this answer was healthy.
          type: bool
          sample: true
        reason:
          description: Why the attempt failed (every failed assertion, then a snippet of the body); null when healthy.
          type: str
          sample: "header X-App-Version is '1.9.0', expected '2.0.0'; response body: 'ok'"
        reasons:
          description: The failed assertions, one per item.
          type: list
          elements: str
          sample: ["header X-App-Version is '1.9.0', expected '2.0.0'"]
        error:
          description: The network error when no HTTP answer came (refused, timed out, TLS failure); null otherwise.
          type: str
          sample: connection refused
"""

from ansible_collections.zerodown.deploy.plugins.module_utils._module import run_module  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.probe import readiness  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils.probe.options import HTTP_CLIENT_ARGUMENT_SPEC  # noqa: E402


def main() -> None:
    argument_spec = dict(readiness.READINESS_ARGUMENT_SPEC)
    argument_spec.update(HTTP_CLIENT_ARGUMENT_SPEC)
    run_module(
        argument_spec,
        readiness.run,
        mutually_exclusive=[("url", "urls")],
        required_one_of=[("url", "urls")],
        required_by={"client_key": "client_cert"},
    )


if __name__ == "__main__":
    main()
