# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin for zerodown.deploy.host_requirements: the verdict on the controller, the look on the host.

With ``needs`` the module runs on the host as any module does. With ``results`` there is nothing to look at on a
host: the verdict over every host's answer is computed here, from the registered results the controller already
holds, so refusing or passing the preflight costs no round trip.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.zerodown.deploy.plugins.module_utils._requirements import PREFLIGHT_FAILED, verdict


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if "results" not in args:
            result.update(self._execute_module(module_args=args, task_vars=task_vars))
            return result
        results, hosts = args.pop("results"), args.pop("hosts", None)
        if args:
            result.update(failed=True, msg="with results, host_requirements takes only hosts, not %s" % ", ".join(args))
            return result
        if not isinstance(results, dict) or not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
            result.update(
                failed=True,
                msg="results must map hosts to their registered results and hosts must list the host names that had "
                "to answer (zerodown_plan.requirements | list)",
            )
            return result
        message, lacking = verdict(results, hosts)
        if message:
            result.update(failed=True, msg="%s: %s" % (PREFLIGHT_FAILED, message), hosts=lacking)
        else:
            result.update(changed=False, hosts={})
        return result
