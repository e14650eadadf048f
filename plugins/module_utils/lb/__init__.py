# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the zerodown.deploy collection: the load-balancer subsystem (docs/architecture.md, "The load-balancer
interface"). ``core`` holds the provider interface and the one apply path; ``haproxy`` and ``nginx`` implement it;
``canary``, ``nginx_log`` and ``bake`` judge a release from the load balancer's counters; ``bluegreen`` reads which
colour is live."""
