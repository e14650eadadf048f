# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the zerodown.deploy collection: the load-balancer subsystem (docs/architecture.md, "The load-balancer
interface"). ``core`` holds the provider interface and the one apply path; ``haproxy`` and ``nginx`` implement it;
``counters`` reads both providers' per-server counts behind one interface (``nginx_log`` is nginx's access-log
reader), ``stats`` holds the exact tests, ``canary`` and ``bake`` judge a release from those counts, ``errors`` the
canary errors; ``bluegreen`` reads which colour is live. ``drain``, ``switch``, ``analyze`` and ``bluegreen.run``
are the engines of the drain_backend, switch_traffic, canary_analysis and blue_green_state modules."""
