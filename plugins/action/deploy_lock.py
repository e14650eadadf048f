# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin for zerodown.deploy.deploy_lock: a lock left by a dead run of this controller is taken over.

It runs the module; when an acquire is refused by a holder whose ``controller`` is this controller and whose
recorded ``controller_process`` (the ansible-playbook process, pid and start time) no longer runs here, that run
is dead (killed, or the controller rebooted): it runs the module again with ``force`` and the reason, which the
audit log keeps. Only the controller can tell, so the decision is taken here and not on the lock host.
"""

from __future__ import annotations

import socket

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.zerodown.deploy.plugins.module_utils._lock import process_gone


def dead_holder_reason(result, args, controller=None):
    """Why the refusing holder in ``result`` is dead, or None: refused acquire, same controller, process gone."""
    holder = result.get("holder") if result.get("failed") else None
    if not isinstance(holder, dict) or args.get("force") or args.get("state", "acquired") != "acquired":
        return None
    here = controller or socket.gethostname()
    if holder.get("controller") != here or not process_gone(holder.get("controller_process")):
        return None
    return "the run %s holding it died: its ansible-playbook process (%s) no longer runs on controller %s" % (
        holder.get("run_id"),
        holder.get("controller_process"),
        here,
    )


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        try:
            out = self._execute_module(module_name="zerodown.deploy.deploy_lock", module_args=args, task_vars=task_vars)
            reason = dead_holder_reason(out, args)
            if reason:
                out = self._execute_module(
                    module_name="zerodown.deploy.deploy_lock",
                    module_args=dict(args, force=True, reason=reason),
                    task_vars=task_vars,
                )
                out["dead_holder"] = reason
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return merge_hash(result, out)
