# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filter zerodown.deploy.failure_message: why a failed task failed, in one line for the abort cause."""

from __future__ import annotations

DOCUMENTATION = r"""
name: failure_message
short_description: Why a failed task failed, from its result (the first failed loop item first)
version_added: 0.1.0
author: zerodown.deploy contributors
description:
  - Reads a task's result as a C(rescue) sees it (C(ansible_failed_result)) and returns its message - for a looped
    task, the C(msg) of the first item that failed; when that item has no message, or the task was not looped, the
    result's own C(msg); V(failed) when there is none.
  - C(playbooks/tasks/abort.yml) records it, after the task's name, as the cause of a stopped deploy;
    C(playbooks/deploy.yml) reports it when the preflight fails.
options:
  _input:
    description: The failed task's result, C(ansible_failed_result).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Why the deploy stops
  ansible.builtin.set_fact:
    cause: "{{ ansible_failed_task.name ~ ': ' ~ ansible_failed_result | zerodown.deploy.failure_message }}"
"""

RETURN = r"""
_value:
  description: The message; V(failed) when the result has none.
  type: raw
"""

_NONE = object()


def failure_message(result):
    """The msg of the first failed loop item when it has a non-empty one, else the result's msg, else 'failed'."""
    result = result or {}
    first = next((item for item in result.get("results") or [] if _failed(item)), None)
    message = first.get("msg", _NONE) if isinstance(first, dict) else _NONE
    if message is not _NONE and message:
        return message
    return result.get("msg", "failed")


def _failed(item):
    return isinstance(item, dict) and bool(item.get("failed"))


class FilterModule:
    def filters(self):
        return {"failure_message": failure_message}
