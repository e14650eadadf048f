# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # TLS and redirect options of the modules built on module_utils/probe/
    # (readiness_probe, smoke_test); their argument spec is probe.options.HTTP_CLIENT_ARGUMENT_SPEC.
    DOCUMENTATION = r"""
options:
  validate_certs:
    description:
      - Verify the server's TLS certificate and host name for C(https://) URLs.
      - Leave this on in production; to trust a private CA, set O(ca_path) instead of turning verification off.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA certificate(s) used to verify the server certificate.
      - When set, it replaces the system trust store for these requests.
      - Ignored when O(validate_certs=false).
    type: path
  client_cert:
    description:
      - PEM file with the client certificate to present to servers that require mutual TLS.
      - May also contain the private key; otherwise set O(client_key).
    type: path
  client_key:
    description:
      - PEM file with the unencrypted private key of O(client_cert).
      - Requires O(client_cert).
    type: path
  follow_redirects:
    description:
      - Follow HTTP redirects (3xx) and judge the final response.
      - By default a redirect is itself the answer, so a health endpoint that redirects to a login page is not
        mistaken for a healthy one; add the 3xx code to the expected status codes if a redirect is healthy.
    type: bool
    default: false
requirements:
  - Python's standard library only (the engine uses urllib and ssl), so the module runs on any managed host
"""
