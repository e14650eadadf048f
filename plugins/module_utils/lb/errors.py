# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the errors of the canary analysis (lb/canary.py), its counters
(lb/counters.py, lb/nginx_log.py) and statistics (lb/stats.py); every message is fit for a user."""

from __future__ import annotations


class CanaryError(Exception):
    """Base class; the message is fit for a user."""


class CanaryInputError(CanaryError, ValueError):
    """A bad option value (threshold, server list, snapshot); nothing was measured."""


class CounterResetError(CanaryError):
    """HAProxy's counters went back (reload, restart, ``clear counters``) between the two snapshots."""
