# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: what a deploy needs on each host, and what a host lacks.

A deploy that finds out half-way that a host cannot run a step leaves a half-done fleet and, worse, a rollback
that may need the very thing that is missing. So the preflight asks every host the run will touch, before
anything changes, for everything the run will need there, and refuses the deploy naming each host and what it
lacks. Three steps, one place:

* ``host_needs`` (on the controller, from the plan): per host, the Python version, systemd, the load balancer's
  runtime API socket or nginx files, the database driver of the migration host, free disk for the artifact;
* ``missing`` (on the host, with a ``HostProbe``): the needs this host does not meet, each a sentence that says
  what to install or fix;
* ``verdict`` (once, over every host's answer): one message naming each host and what it lacks, or None.

The rollback needs nothing beyond these: it runs the same modules on the same hosts (systemd and the
standard library on app hosts, the socket on load-balancer hosts), never the migration host, and frees disk
rather than using it.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import HAProxyValueError, parse_address

#: The oldest Python the modules run on: the oldest target Python of the ansible-core releases the collection
#: supports (``from __future__ import annotations`` alone would need 3.7).
MIN_PYTHON = (3, 8)
#: The Python package of each dialect's driver and how to get it on Debian or with pip.
DRIVERS = {
    "postgresql": ("psycopg", "psycopg 3: apt-get install python3-psycopg, or pip install psycopg"),
    "mysql": ("pymysql", "PyMySQL: apt-get install python3-pymysql, or pip install PyMySQL"),
}
#: How a refused preflight begins, whichever check refused it: nothing of the deploy has started yet.
PREFLIGHT_FAILED = "preflight failed, nothing was changed"
#: How long connecting to a runtime API socket may take before it counts as unreachable.
SOCKET_TIMEOUT = 3.0


def host_needs(
    app_hosts: Sequence[str],
    lb_hosts: Sequence[str],
    lb: Dict[str, Any],
    base_dir: str,
    app: str,
    release: str,
    artifact_bytes: Optional[int],
    unpacked_bytes: Optional[int],
    migrate_host: Optional[str],
    dialect: Optional[str],
) -> Dict[str, Dict[str, Any]]:
    """What the run needs on each host it touches: {host: needs} for the ``host_requirements`` module.

    ``artifact_bytes`` / ``unpacked_bytes``: the artifact's size and the size of what it unpacks to (None when
    unknown, an artifact given as a URL); ``migrate_host``: the host that applies migrations with a database
    driver (None when the run applies none), ``dialect`` its database.
    """
    python = "%d.%d" % MIN_PYTHON
    needs: Dict[str, Dict[str, Any]] = {}
    for host in app_hosts:
        entry: Dict[str, Any] = {"python": python, "systemd": True}
        if unpacked_bytes is not None:
            entry["disk"] = {
                "path": os.path.join(base_dir, app),
                "release": release,
                "unpacked_bytes": unpacked_bytes,
                "artifact_bytes": artifact_bytes or 0,
            }
        needs[host] = entry
    for host in lb_hosts:
        entry = {"python": python}
        if lb.get("provider") == "nginx":
            nginx = lb.get("nginx") or {}
            entry["nginx"] = {"conf": nginx.get("conf"), "servers_file": nginx.get("servers_file")}
        else:
            entry["sockets"] = list(lb.get("socket") or [])
        needs[host] = entry
    if migrate_host and dialect in DRIVERS:
        needs.setdefault(migrate_host, {"python": python})["db_driver"] = dialect
    return needs


class HostProbe:
    """Looks at this host; the tests pass a fake with the same methods."""

    def python_version(self) -> Tuple[int, int, int]:
        return tuple(sys.version_info[:3])  # type: ignore[return-value]

    def systemd(self) -> Optional[str]:
        """Why systemd cannot run the app's unit here, or None."""
        if shutil.which("systemctl") is None:
            return "systemctl is not installed"
        if not os.path.isdir("/run/systemd/system"):
            return "systemd is not the init system (no /run/systemd/system)"
        return None

    def socket(self, address: str) -> Optional[str]:
        """Why this user cannot talk to the runtime API at ``address``, or None."""
        try:
            kind, target = parse_address(address)
        except HAProxyValueError as exc:
            return str(exc)
        if kind == "unix":
            try:
                info = os.stat(target)
            except FileNotFoundError:
                return "no socket at %s (is HAProxy running, with 'stats socket %s level admin'?)" % (target, target)
            except OSError as exc:
                return "cannot reach %s: %s" % (target, exc.strerror)
            if not stat.S_ISSOCK(info.st_mode):
                return "%s is not a socket" % target
            family, where = socket.AF_UNIX, target
        else:
            family, where = socket.AF_INET6 if ":" in target[0] else socket.AF_INET, target
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(SOCKET_TIMEOUT)
        try:
            sock.connect(where)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                return (
                    "%s: permission denied for uid %d (mode %s): run as root (become: true) or give this user "
                    "access to the socket" % (address, os.geteuid(), _mode(target) if kind == "unix" else "-")
                )
            return "%s: %s" % (address, exc.strerror or exc)
        finally:
            sock.close()
        return None

    def path(self, path: str, writable: bool) -> Optional[str]:
        """Why ``path`` cannot be read (or written), or None."""
        if not path:
            return "no path given"
        if not os.path.exists(path):
            return "%s does not exist" % path
        wanted = os.R_OK | (os.W_OK if writable else 0)
        if not os.access(path, wanted):
            return "%s is not %s by uid %d" % (path, "writable" if writable else "readable", os.geteuid())
        return None

    def driver(self, dialect: str) -> Optional[str]:
        """Why the database driver of ``dialect`` does not import here, or None."""
        module = DRIVERS[dialect][0]
        try:
            __import__(module)
        except ImportError as exc:
            return str(exc)
        return None

    def free_bytes(self, path: str) -> Tuple[str, int, int]:
        """(the existing directory that holds ``path``, its free bytes for this user, its device)."""
        existing = _existing_parent(path)
        info = os.statvfs(existing)
        return existing, info.f_bavail * info.f_frsize, os.stat(existing).st_dev

    def exists(self, path: str) -> bool:
        return os.path.exists(path)


def _mode(path: str) -> str:
    try:
        return oct(stat.S_IMODE(os.stat(path).st_mode))
    except OSError:
        return "?"


def _existing_parent(path: str) -> str:
    """The directory ``path`` is or would be created in (``~`` is this user's home: Ansible's remote_tmp)."""
    path = os.path.abspath(os.path.expanduser(path))
    while not os.path.exists(path) and path != os.path.dirname(path):
        path = os.path.dirname(path)
    return path


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return ("%d %s" % (count, unit)) if unit == "B" else ("%.1f %s" % (count, unit))
        count /= 1024.0
    return "%d B" % count  # pragma: no cover - the loop returns


def missing(needs: Dict[str, Any], probe: Any, tmpdir: Optional[str] = None) -> Tuple[List[str], Dict[str, Any]]:
    """(what this host lacks, what was found) for ``needs`` from ``host_needs``.

    ``tmpdir``: where a sent artifact lands before it is unpacked (the module's temporary directory); its size
    counts there, and against the release directory's space when both are on one filesystem.
    """
    lacks: List[str] = []
    found: Dict[str, Any] = {}
    version = probe.python_version()
    found["python"] = "%d.%d.%d" % tuple(version)
    wanted = tuple(int(p) for p in str(needs.get("python") or "%d.%d" % MIN_PYTHON).split("."))
    if tuple(version[: len(wanted)]) < wanted:
        lacks.append(
            "Python %s or newer (this host runs %s with %s)"
            % (".".join(map(str, wanted)), found["python"], sys.executable)
        )
    if needs.get("systemd"):
        problem = probe.systemd()
        found["systemd"] = problem is None
        if problem:
            lacks.append("systemd to run the app's unit: %s" % problem)
    for address in needs.get("sockets") or []:
        problem = probe.socket(address)
        found.setdefault("sockets", {})[address] = problem is None
        if problem:
            lacks.append("the HAProxy runtime API: %s" % problem)
    nginx = needs.get("nginx")
    if nginx:
        for key, writable in (("conf", False), ("servers_file", True)):
            problem = probe.path(nginx.get(key) or "", writable)
            if problem:
                lacks.append("nginx's %s: %s" % (key, problem))
    dialect = needs.get("db_driver")
    if dialect:
        problem = probe.driver(dialect)
        found["db_driver"] = problem is None
        if problem:
            lacks.append(
                "the %s driver to apply the migrations (%s): install %s" % (dialect, problem, DRIVERS[dialect][1])
            )
    disk = needs.get("disk")
    if disk:
        lacks.extend(_disk(disk, probe, tmpdir, found))
    return lacks, found


def _disk(disk: Dict[str, Any], probe: Any, tmpdir: Optional[str], found: Dict[str, Any]) -> List[str]:
    releases = os.path.join(disk["path"], "releases", disk["release"])
    if probe.exists(releases):
        found["disk"] = "release %s is already unpacked" % disk["release"]
        return []  # staging sends and unpacks nothing
    where, free, device = probe.free_bytes(disk["path"])
    need = int(disk["unpacked_bytes"])
    artifact = int(disk.get("artifact_bytes") or 0)
    found["disk"] = {"path": where, "free_bytes": free}
    lacks = []
    if artifact and tmpdir:
        tmp_where, tmp_free, tmp_device = probe.free_bytes(tmpdir)
        if tmp_device == device:
            need += artifact  # the artifact and what it unpacks to are on this filesystem at once
        elif tmp_free < artifact:
            lacks.append(
                "%s free in %s for the artifact (%s free there)"
                % (human_bytes(artifact), tmp_where, human_bytes(tmp_free))
            )
    if free < need:
        lacks.append(
            "%s free in %s for release %s (%s free there): free space, or keep fewer releases (zerodown_keep_releases)"
            % (human_bytes(need), where, disk["release"], human_bytes(free))
        )
    return lacks


def verdict(results: Dict[str, Any], expected: Sequence[str]) -> Tuple[Optional[str], Dict[str, List[str]]]:
    """(one message naming each host that lacks something or could not be asked, {host: what it lacks}).

    The message is None when every host has everything. ``results``: {host: the registered result of
    ``host_requirements`` on it}; ``expected``: every host that had to answer. A host that was unreachable, or
    where the module could not run (no Python at all, say), is named with Ansible's reason.
    """
    lacking: Dict[str, List[str]] = {}
    for host in expected:
        result = results.get(host)
        if not isinstance(result, dict) or result.get("skipped"):
            lacking[host] = ["not checked (no answer from the host)"]
        elif result.get("unreachable"):
            lacking[host] = ["unreachable: %s" % _short(result.get("msg"))]
        elif result.get("missing"):
            lacking[host] = [str(item) for item in result["missing"]]
        elif result.get("failed"):
            lacking[host] = ["the check could not run there: %s" % _short(result.get("msg"))]
    if not lacking:
        return None, {}
    message = "%d of %d host(s) lack what this deploy needs: %s" % (
        len(lacking),
        len(expected),
        " | ".join("%s lacks %s" % (host, "; ".join(items)) for host, items in lacking.items()),
    )
    return message, lacking


def _short(text: Any, limit: int = 300) -> str:
    flat = " ".join(str(text or "no message").split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


#: The keys of ``needs`` (one entry of ``zerodown_plan.requirements``).
NEEDS = ("python", "systemd", "sockets", "nginx", "db_driver", "disk")


def run(params: Mapping[str, Any], check_mode: bool, *, tmpdir: str) -> Dict[str, Any]:
    """The host_requirements module: the verdict over every host's ``results``, or what this host lacks of its
    ``needs``. It only reads, so check mode is the same run. ``tmpdir`` is Ansible's remote temporary directory,
    where a sent artifact lands (looked at for free disk, never made)."""
    if params["results"] is not None:
        message, lacking = verdict(params["results"], params["hosts"])
        if message:
            raise ModuleFailure("%s: %s" % (PREFLIGHT_FAILED, message), hosts=lacking)
        return dict(changed=False, hosts={})
    needs = params["needs"]
    unknown = sorted(set(needs) - set(NEEDS))
    if unknown:
        raise ModuleFailure(
            "needs has unknown key(s) %s; it takes %s (zerodown_plan.requirements[host])"
            % (", ".join(unknown), ", ".join(NEEDS))
        )
    try:
        lacks, found = missing(needs, HostProbe(), tmpdir=tmpdir if needs.get("disk") else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModuleFailure(
            "needs is malformed (%s: %s); pass zerodown_plan.requirements[host]" % (type(exc).__name__, exc)
        ) from exc
    if lacks:
        raise ModuleFailure("this host lacks %s" % "; ".join(lacks), missing=lacks, found=found)
    return dict(changed=False, missing=[], found=found)
