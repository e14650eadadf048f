# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: every migration_check rule, by id, and who listens to which event.

Imported one by one, by name, so that Ansible's module bundler (which follows imports) ships each rule file
with the module.
"""

from __future__ import annotations

from types import ModuleType
from typing import Dict, FrozenSet, List, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rule import Rule
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rules import (
    add_column_volatile_default,
    add_constraint_validating,
    add_foreign_key_blocking,
    add_not_null_no_default,
    add_unique_constraint,
    alter_primary_key,
    alter_type,
    create_index_blocking,
    delete_all,
    drop_column,
    drop_index_blocking,
    drop_schema,
    drop_table,
    drop_unique_constraint,
    drop_view,
    invalid_waiver,
    lock_table,
    rename_column,
    rename_table,
    set_not_null,
    table_rewrite,
    truncate,
    undetermined,
    unparsed,
    update_all,
)

# in the order of docs/architecture.md (migration rules), engine-level findings last
_MODULES = (
    drop_table,
    drop_column,
    drop_schema,
    drop_view,
    rename_table,
    rename_column,
    set_not_null,
    add_not_null_no_default,
    drop_unique_constraint,
    alter_primary_key,
    add_unique_constraint,
    alter_type,
    truncate,
    delete_all,
    update_all,
    create_index_blocking,
    drop_index_blocking,
    add_constraint_validating,
    add_foreign_key_blocking,
    add_column_volatile_default,
    table_rewrite,
    lock_table,
    unparsed,
    undetermined,
    invalid_waiver,
)

RULES: Dict[str, Rule] = {m.RULE.id: m.RULE for m in _MODULES}
LOCK_ONLY_RULES: FrozenSet[str] = frozenset(r.id for r in RULES.values() if r.lock_only)

# event class -> the rule modules whose check() reads it, in the order above (the order of a statement's findings)
_listeners: Dict[type, List[ModuleType]] = {}
for _module in _MODULES:
    for _event in _module.EVENTS:
        _listeners.setdefault(_event, []).append(_module)
LISTENERS: Dict[type, Tuple[ModuleType, ...]] = {k: tuple(v) for k, v in _listeners.items()}
del _listeners
