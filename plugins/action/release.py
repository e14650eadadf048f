# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin for zerodown.deploy.release: staging in one task.

A small ``src`` (up to ``INLINE_MAX`` bytes) goes inside the one module call, as ``content``: one round trip,
whether the host needs it or not (the host uses it only when it has neither the release unpacked nor the
artifact). A bigger one is sent only when the module reports that the host needs it (``artifact_needed``): then
it is transferred and the module runs again with the copy. The sha256 of ``src`` goes along as ``checksum`` so
the host verifies what it got. It sets ``zerodown_release_state`` for the strategy roles.
"""

from __future__ import annotations

import base64
import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.zerodown.deploy.plugins.module_utils._release import sha256_file

STATE_FACT = "zerodown_release_state"
# Up to this size the artifact travels inside the module call: a second round trip (temporary directory, transfer
# and another module start, 2-3 s on a loaded controller) costs more than sending a small tarball for nothing.
INLINE_MAX = 512 * 1024


class ActionModule(ActionBase):
    # False: ActionBase would otherwise make the remote temporary directory before every call (two round trips, and
    # a third to remove it) although only a big src needs one; _run_with_src makes it then.
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        src = args.pop("src", None)
        try:
            if src is not None:
                if args.get("artifact") or args.get("url"):
                    raise AnsibleActionFail("src cannot be combined with artifact or url: give one source")
                module_result = self._run_with_src(src, args, task_vars)
            else:
                module_result = self._execute_module(module_args=args, task_vars=task_vars)
        except AnsibleActionFail as exc:
            result.update(failed=True, msg=str(exc))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

        state = args.get("state", "current")
        if args.get("release") and state in ("present", "current") and not module_result.get("failed"):
            module_result["ansible_facts"] = {
                STATE_FACT: {
                    "host": task_vars.get("inventory_hostname"),
                    "app": args.get("app"),
                    "release": args["release"],
                    "previous": module_result.get("previous"),
                    "needs_switch": bool(module_result.get("needs_switch", True)),
                    "unit_changed": bool(module_result.get("unit_changed")),
                }
            }
        return merge_hash(result, module_result)

    def _run_with_src(self, src, args, task_vars):
        try:
            local = self._find_needle("files", src)
        except Exception as exc:  # noqa: BLE001 - AnsibleError subclasses and OSError alike
            raise AnsibleActionFail("src %r is not a file on the controller: %s" % (src, exc)) from exc
        if not args.get("checksum"):
            args["checksum"] = "sha256:" + sha256_file(local)
        if os.path.getsize(local) <= INLINE_MAX:
            with open(local, "rb") as handle:
                content = base64.b64encode(handle.read()).decode("ascii")
            return self._execute_module(module_args=dict(args, content=content), task_vars=task_vars)
        first = self._execute_module(module_args=dict(args, artifact_missing="skip"), task_vars=task_vars)
        if not first.get("artifact_needed") or first.get("failed"):
            return first
        if self._task.check_mode:
            first.update(changed=True, actions=["transfer", "unpack"] + list(first.get("actions") or []))
            return first
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        remote = self._connection._shell.join_path(tmpdir, "artifact")
        self._transfer_file(local, remote)
        self._fixup_perms2((tmpdir, remote))
        second = self._execute_module(module_args=dict(args, artifact=remote), task_vars=task_vars)
        second["actions"] = ["transfer"] + list(second.get("actions") or [])
        second["changed"] = True
        return second
