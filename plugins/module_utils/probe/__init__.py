# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the zerodown.deploy collection: the HTTP checks (``readiness_probe``, ``smoke_test`` and the release
module's ``ready``). ``options`` validates what a check asks for and builds it; ``transport`` is the one urllib
transport (standard library only, docs/architecture.md, "Where logic lives"); ``checks`` sends one request and
judges the answer; ``readiness`` (N consecutive successes per target, one deadline) and ``smoke`` (named checks,
some rounds) are the engines of the two modules. Nothing here knows AnsibleModule."""
