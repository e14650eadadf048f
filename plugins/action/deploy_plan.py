# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action plugin zerodown.deploy.deploy_plan: the whole deploy plan, computed once on the controller.

It reads the deploy variables (``zerodown_*``) of the host it runs for,
resolves the host patterns against the inventory, and returns the plan as the
fact ``zerodown_plan`` (with ``run_once`` it is set on every host of the play).
The decisions themselves are ``module_utils/_plan.py``; this file only gathers
the inputs. Nothing is sent to any host.
"""

from __future__ import annotations

import getpass
import os
import secrets
import socket
import time

from ansible.errors import AnsibleError
from ansible.parsing.mod_args import ModuleArgsParser
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import lookup_loader
from ansible.utils.display import Display

from ansible_collections.zerodown.deploy.plugins.module_utils._lock import process_identity
from ansible_collections.zerodown.deploy.plugins.module_utils._plan import DEFAULTS, HOOKS, PlanError, build_plan
from ansible_collections.zerodown.deploy.plugins.module_utils._release import sha256_file

FACT = "zerodown_plan"
display = Display()
_ARGS = ("mode", "run_id")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def _var(self, task_vars, name):
        if name not in task_vars:
            return DEFAULTS.get(name)
        return self._templar.template(task_vars[name])

    def _hosts(self, task_vars, pattern):
        if (
            pattern not in task_vars.get("groups", {})
            and not any(c in pattern for c in ":,&!*~[")
            and (pattern not in task_vars.get("hostvars", {}))
        ):
            return []  # a plain group name that the inventory does not have (no warning for an absent db group)
        lookup = lookup_loader.get("ansible.builtin.inventory_hostnames", loader=self._loader, templar=self._templar)
        return list(lookup.run([pattern], variables=task_vars))

    def _inputs(self, task_vars):
        """(the templated deploy variables, hosts per kind, blue-green colours, each host's address)."""
        names = sorted(n for n in task_vars if n.startswith("zerodown_") and n != FACT)
        variables = {n: self._var(task_vars, n) for n in names}
        # a relative hook path is relative to the directory ansible-playbook runs in (the project's, under AWX and
        # ansible-runner), as its -i and -e @file are: playbook_dir and include_tasks would take it from the
        # collection's playbook directory
        for name in HOOKS:
            path = variables.get("zerodown_hook_%s" % name)
            if isinstance(path, str) and path and not os.path.isabs(path):
                variables["zerodown_hook_%s" % name] = os.path.abspath(path)
        patterns = {
            kind: variables.get("zerodown_%s_hosts" % kind) or DEFAULTS["zerodown_%s_hosts" % kind]
            for kind in ("app", "lb", "db")
        }
        hosts = {kind: self._hosts(task_vars, pattern) for kind, pattern in patterns.items()}
        # blue-green colours: inventory groups, or any host pattern (app1:app2)
        colours = {}
        for colour in ("blue", "green"):
            pattern = variables.get("zerodown_%s_group" % colour) or DEFAULTS["zerodown_%s_group" % colour]
            colours[pattern] = self._hosts(task_vars, pattern)
        hostvars = task_vars.get("hostvars", {})
        addresses = {}
        for host in hosts["app"] + hosts["lb"]:
            address = hostvars[host].get("ansible_host") if host in hostvars else None
            addresses[host] = self._templar.template(address) if address else host
        return variables, hosts, colours, addresses

    def _hook_problem(self, path):
        """Why the task file ``path`` would not load where the deploy includes it (YAML, the shape of a task list,
        each task's module or action known), or None."""
        try:
            tasks = self._loader.load_from_file(path)
        except AnsibleError as exc:
            return str(exc).splitlines()[0]
        pending = [tasks if tasks is not None else []]
        while pending:
            items = pending.pop()
            if not isinstance(items, list):
                return "it is not a list of tasks"
            for task in items:
                if not isinstance(task, dict):
                    return "%r is not a task" % (task,)
                nested = [task[key] for key in ("block", "rescue", "always") if key in task]
                if nested:
                    pending.extend(nested)
                    continue
                try:
                    ModuleArgsParser(task, collection_list=self._task.collections).parse()
                except AnsibleError as exc:
                    return "task %r: %s" % (task.get("name", ""), str(exc).splitlines()[0])
        return None

    def _identity(self, variables, mode):
        run_id = self._task.args.get("run_id") or "%s-%s%s" % (
            time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
            "rb-" if mode == "rollback" else "",
            secrets.token_hex(3),
        )
        return {
            "run_id": run_id,
            "owner": variables.get("zerodown_owner") or os.environ.get("USER") or getpass.getuser(),
            "controller": socket.gethostname(),
            # action plugins run in workers forked from the ansible-playbook process: its pid and start time
            "controller_process": process_identity(os.getppid()),
        }

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        unknown = sorted(set(self._task.args) - set(_ARGS))
        if unknown:
            result.update(failed=True, msg="deploy_plan takes %s, not %s" % (", ".join(_ARGS), ", ".join(unknown)))
            return result
        mode = self._task.args.get("mode", "deploy")
        try:
            variables, hosts, colours, addresses = self._inputs(task_vars)
        except AnsibleError as exc:
            result.update(failed=True, msg="deploy_plan could not read the deploy variables: %s" % exc)
            return result
        try:
            plan = build_plan(
                variables,
                mode,
                hosts["app"],
                hosts["lb"],
                hosts["db"],
                addresses,
                self._identity(variables, mode),
                sha256_file,
                groups=colours,
                check_hook=self._hook_problem,
            )
        except PlanError as exc:
            result.update(failed=True, msg=str(exc), problems=exc.problems)
            return result
        except OSError as exc:
            result.update(failed=True, msg="deploy_plan: %s; nothing was changed" % exc)
            return result
        if plan["deprecations"]:
            result["deprecations"] = [
                {"msg": note, "version": "1.0.0", "collection_name": "zerodown.deploy"} for note in plan["deprecations"]
            ]
        for line in plan["summary"]:
            display.display("zerodown plan: %s" % line)
        result.update(changed=False, plan=plan, ansible_facts={FACT: plan})
        return result
