# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: deploy_report
type: aggregate
short_description: Writes each deploy as JSON and as one self-contained HTML report
version_added: 0.1.0
description:
  - "Records the run as it goes (each task's start and end per host, and the results of the collection's modules)
    and at the end writes two files into O(report_dir) - C(<app>-<run id>.json) and C(<app>-<run id>.html) - then
    prints C(deploy report: <path of the HTML file>) as the run's last line."
  - "The HTML file is self-contained (inline CSS and SVG, no script, nothing fetched): a timeline per host and phase
    (stage, drain, stop, switch, start, ready, enable; rollback in another colour), each load balancer's server states
    over time, the traffic share per release, canary steps and bake window, drain and readiness timings, migration
    findings with their rule and remedy, the rollback cause, and the summary (outcome, duration, failed requests
    where the load balancer's counters were read)."
  - The traffic share is measured only where M(zerodown.deploy.canary_analysis) read the load balancer's per-server
    counters (the canary strategy, C(zerodown_bake_time)); otherwise the report shows the weights of the serving
    servers per release and says so.
  - It keeps only the result fields it draws, never a module's arguments; a C(no_log) result stays hidden (counted,
    not shown); URL credentials and C(password=) values in messages are masked.
  - The report never fails a run - an error in it is printed as a warning.
  - It is not enabled by default (a callback cannot be enabled from a playbook). Enable it in C(ansible.cfg) with
    C(callbacks_enabled = zerodown.deploy.deploy_report) in C([defaults]), or with
    C(ANSIBLE_CALLBACKS_ENABLED=zerodown.deploy.deploy_report); AWX / Automation Controller reads the project's
    C(ansible.cfg) too.
author:
  - zerodown.deploy contributors (@zerodown)
options:
  report_dir:
    description:
      - Directory the reports are written to, created if missing. A relative path is relative to the directory
        C(ansible-playbook) runs in, or, set in C(ansible.cfg), to that file's directory.
      - Unset or empty, the reports go to C(zerodown-reports) in the job's artifacts directory when ansible-runner
        runs the playbook (AWX / Automation Controller, C(ansible-runner run), ansible-navigator; it names that
        directory in E(AWX_ISOLATED_DATA_DIR)), otherwise to C(./zerodown-reports).
    type: path
    env:
      - name: ZERODOWN_REPORT_DIR
    ini:
      - section: zerodown_deploy_report
        key: report_dir
  report_name:
    description:
      - Base name of the two files (without C(.json) or C(.html)); empty for C(<app>-<run id>) (or
        C(deploy-<UTC time>) when the run made no plan).
    type: str
    default: ""
    env:
      - name: ZERODOWN_REPORT_NAME
    ini:
      - section: zerodown_deploy_report
        key: report_name
  always:
    description:
      - Write a report for every playbook run, also one that ran no module of this collection (by default such a
        run gets no report, so enabling the callback globally does not litter other projects).
    type: bool
    default: false
    env:
      - name: ZERODOWN_REPORT_ALWAYS
    ini:
      - section: zerodown_deploy_report
        key: always
requirements:
  - none beyond ansible-core
notes:
  - Times are the controller's clock, relative to the start of the run; the deploy phases row comes from the
    ledger, whose times are the ledger host's clock.
seealso:
  - module: zerodown.deploy.deploy_ledger
  - module: zerodown.deploy.canary_analysis
"""

EXAMPLES = r"""
# ansible.cfg beside the playbook (or in the AWX project)
# [defaults]
# callbacks_enabled = zerodown.deploy.deploy_report
#
# [zerodown_deploy_report]
# report_dir = /var/log/zerodown/reports

# or for one run:
# ANSIBLE_CALLBACKS_ENABLED=zerodown.deploy.deploy_report ZERODOWN_REPORT_DIR=/tmp/reports \
#   ansible-playbook zerodown.deploy.deploy -i inventory -e @deploy.yml
"""

import functools  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

from ansible.plugins.callback import CallbackBase  # noqa: E402

from ansible_collections.zerodown.deploy.plugins.plugin_utils._report import build_report, safe_result  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.plugin_utils._report_html import write_report  # noqa: E402


def _guarded(method):
    """The report never fails a run: an error is a warning (once per callback method), the run goes on."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any error of the report must stay out of the run
            if method.__name__ not in self._warned:
                self._warned.add(method.__name__)
                self._display.warning(
                    "deploy report: %s failed (%s: %s); the run is not affected"
                    % (method.__name__, type(exc).__name__, exc)
                )
            return None

    return wrapper


def _parts(result):
    """(host name, task, result dict) of a callback's task result, on ansible-core 2.16 to 2.19+."""
    data = getattr(result, "result", None)
    if not isinstance(data, dict):
        data = result._result
    host = getattr(result, "host", None) or result._host
    task = getattr(result, "task", None) or result._task
    return host.get_name(), task, data


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "zerodown.deploy.deploy_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._events = []
        self._warned = set()

    def _add(self, **event):
        event.setdefault("at", time.time())
        self._events.append(event)

    @_guarded
    def v2_playbook_on_start(self, playbook):
        self._add(type="playbook", name=os.path.basename(getattr(playbook, "_file_name", "") or ""))

    @_guarded
    def v2_playbook_on_play_start(self, play):
        self._add(type="play", name=play.get_name())

    @_guarded
    def v2_playbook_on_task_start(self, task, is_conditional):
        self._add(
            type="task",
            id=task._uuid,
            name=task.get_name(),
            module=getattr(task, "resolved_action", None) or task.action,
            path=task.get_path() or "",
        )

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    @_guarded
    def v2_runner_on_start(self, host, task):
        self._add(type="host_start", id=task._uuid, host=host.get_name())

    def _result(self, result, status, ignored=False):
        host, task, data = _parts(result)
        action = getattr(task, "resolved_action", None) or task.action
        self._add(
            type="result", id=task._uuid, host=host, status=status, ignored=ignored, result=safe_result(action, data)
        )

    @_guarded
    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    @_guarded
    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "failed", ignored=bool(ignore_errors))

    @_guarded
    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    @_guarded
    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    @_guarded
    def v2_playbook_on_stats(self, stats):
        report = build_report(self._events)
        if not report["zerodown_tasks"] and not self.get_option("always"):
            self._display.display("deploy report: none (no zerodown.deploy module ran)")
            return
        path = write_report(report, self.get_option("report_dir"), self.get_option("report_name"))
        self._display.display("deploy report: %s" % path)
