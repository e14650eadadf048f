"""Running zerodown.deploy through real Ansible from tests, benches and the demo.

One place for what every harness needs: the ``.collections`` link that makes
the flat checkout an installed collection (``ansible_collections/zerodown/deploy``),
the environment that points Ansible at it, and ``run_module`` to run one of our
modules ad hoc on localhost and return its result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = REPO / ".collections"
_LINK = COLLECTIONS / "ansible_collections" / "zerodown" / "deploy"


def ensure_collection_link() -> None:
    """Create ``.collections/ansible_collections/zerodown/deploy`` -> the checkout, once."""
    if not _LINK.exists():
        _LINK.parent.mkdir(parents=True, exist_ok=True)
        _LINK.symlink_to(Path("..") / ".." / "..")


def base_env(**extra: str) -> dict:
    """The environment every Ansible run of the tests, bench and demo starts from: this checkout's collection only."""
    ensure_collection_link()
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_HOST_KEY_CHECKING="false",
        ANSIBLE_RETRY_FILES_ENABLED="false",
    )
    env.update(extra)
    return env


def ansible_env(**extra: str) -> dict:
    """For modules run ad hoc on localhost: one line per result, the test's own Python."""
    return base_env(
        **dict(
            dict(
                ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                ANSIBLE_STDOUT_CALLBACK="ansible.builtin.oneline",
                ANSIBLE_LOCALHOST_WARNING="false",
                ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                ANSIBLE_PYTHON_INTERPRETER=sys.executable,
            ),
            **extra,
        )
    )


def run_module(
    name: str, args: dict, check: bool = False, diff: bool = False, timeout: float = 300, env: Optional[dict] = None
) -> dict:
    """Run ``zerodown.deploy.<name>`` (or a module named by its FQCN) on localhost and return the module result.

    The result always has ``failed`` (bool) and ``changed`` (bool); a
    traceback from the module (``module_stderr`` / ``exception``) fails the
    test immediately, because users must never see one.
    """
    return run_module_output(name, args, check=check, diff=diff, timeout=timeout, env=env)[0]


def run_module_output(
    name: str,
    args: dict,
    check: bool = False,
    diff: bool = False,
    timeout: float = 300,
    verbosity: int = 0,
    env: Optional[dict] = None,
) -> tuple:
    """``run_module``, returning ``(result, everything Ansible printed on stdout and stderr)``.

    With ``verbosity`` 3 (``-vvv``) Ansible prints the result in full, the invocation and diff included:
    what a test that greps the output for secrets wants. ``env`` is added to ``ansible_env()`` (a bench's
    callback plugins, other collections on ANSIBLE_COLLECTIONS_PATH).
    """
    fqcn = name if "." in name else "zerodown.deploy." + name
    cmd = [
        str(Path(sys.executable).parent / "ansible"),
        "localhost",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-m",
        fqcn,
        "-a",
        json.dumps(args),
    ]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    proc = subprocess.run(
        cmd, env=ansible_env(**(env or {})), capture_output=True, text=True, timeout=timeout, check=False
    )
    # oneline prints "localhost | SUCCESS => {...}" (or FAILED!) on one line.
    line = next((x for x in proc.stdout.splitlines() if x.startswith("localhost | ")), "")
    try:
        result = json.loads(line.split(" => ", 1)[1])
    except (ValueError, IndexError) as exc:
        raise AssertionError(
            "could not read the module result (rc=%s)\nstdout:\n%s\nstderr:\n%s"
            % (proc.returncode, proc.stdout, proc.stderr)
        ) from exc
    status = line.split(" | ", 1)[1].split(" => ", 1)[0]
    result["failed"] = result.get("failed", False) or status.startswith(("FAILED", "UNREACHABLE"))
    assert "module_stderr" not in result and "exception" not in result, "module crashed: %r" % (result,)
    result.setdefault("changed", False)
    return result, proc.stdout + proc.stderr
