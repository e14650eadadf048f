# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bench helper (not part of the collection): every task result as a JSON line in $ZERODOWN_BENCH_RESULTS."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_results
type: aggregate
short_description: write task results as JSON lines (bench/rolling)
description:
  - Appends one JSON line per task result to the file named by ZERODOWN_BENCH_RESULTS.
  - With ZERODOWN_BENCH_TASKS, also one line per task start (name, time) to that file, skipped tasks included, so that
    a profile can give each task its wall time (up to the next task's start).
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_results"
    CALLBACK_NEEDS_ENABLED = False

    _task_started = 0.0

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_started = time.monotonic()
        self._mark(task.get_name())

    def v2_playbook_on_stats(self, stats):
        self._mark(None)  # the end of the last task

    @staticmethod
    def _mark(name):
        path = os.environ.get("ZERODOWN_BENCH_TASKS")
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"task": name, "at": time.time()}) + "\n")

    def _write(self, result, status):
        path = os.environ.get("ZERODOWN_BENCH_RESULTS")
        if not path:
            return
        line = {
            "task": result._task.get_name(),
            "host": result._host.get_name(),
            "status": status,
            "result": result._result,
            "task_seconds": round(time.monotonic() - self._task_started, 3),
            "at": time.time(),
        }
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, default=str) + "\n")

    def v2_runner_on_ok(self, result):
        self._write(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, "failed")
