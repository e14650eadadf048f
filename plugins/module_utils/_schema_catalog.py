# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the live catalog for migration_check's schema-aware mode."""

from __future__ import annotations

from typing import Optional

from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import Catalog


class CatalogError(Exception):
    """The catalog could not be read (connection refused, bad DSN, missing driver)."""


def read_catalog(dsn: str, dialect: str, password: Optional[str] = None, connect_timeout: float = 10) -> Catalog:
    raise CatalogError("schema-aware mode is not available in this build")
