"""The images a fleet's app hosts boot from: the full rootfs, or a minimal one derived from it.

``full`` is the cached rootfs of ``rootfs.py`` (everything baked in, Python libraries included). ``minimal`` is
what many base images and minimal cloud images ship: the same machine with Debian's python3 and nothing else
of Python's - every ``python3-*`` package purged (requests, apt, psycopg, ... and whatever a later rootfs adds),
python3 itself and its own runtime kept. A deploy to such app hosts proves that the modules need nothing beyond
the standard library there.

The minimal image is derived from the full one in a chroot (a copy and one ``apt-get purge``, seconds, no
network) and cached beside it under ``<cache>/minimal-<full rootfs key>-<this file's key>``: a new full rootfs
or a change here derives a fresh one. Only app hosts take the fleet's image; lb1 and db1 always boot the full
rootfs (HAProxy, nginx and PostgreSQL are not Python, and the tests reach into them).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable, List

from . import rootfs

IMAGES = ("full", "minimal")
DEFAULT_IMAGE = "full"
#: Python's own packages, kept in the minimal image: the interpreter and its standard library.
KEPT = ("python3", "python3-minimal")


def _key() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:8]


def check_image(name: str) -> str:
    if name not in IMAGES:
        raise rootfs.RootfsError("image %r is not one of %s" % (name, ", ".join(IMAGES)))
    return name


def ensure_image(name: str, log: Callable[[str], None] = print) -> Path:
    """The rootfs directory for app hosts of image ``name``, built (and cached) first if needed."""
    base = rootfs.ensure_rootfs(log=log)
    if check_image(name) == "full":
        return base
    target = rootfs.CACHE_DIR / ("minimal-%s-%s" % (base.name[len("rootfs-") :], _key()))
    if (target / ".zerodown-complete").exists():
        return target
    with open(rootfs.CACHE_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".zerodown-complete").exists():
            return target
        started = time.monotonic()
        work = rootfs.CACHE_DIR / (".build-%s-%d" % (target.name, os.getpid()))
        shutil.rmtree(work, ignore_errors=True)
        log("deriving the minimal app-host image from %s into %s" % (base, target))
        try:
            _run(["cp", "-a", "--reflink=auto", str(base), str(work)])
            purged = _purge_python_packages(work)
            (work / ".zerodown-complete").write_text("minimal image of %s\npurged: %s\n" % (base, " ".join(purged)))
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        shutil.rmtree(target, ignore_errors=True)
        os.rename(work, target)
        _prune_minimal(keep=target)
        log("minimal image derived in %.0f s (purged %d packages)" % (time.monotonic() - started, len(purged)))
    return target


def python_packages(root: Path) -> List[str]:
    """The installed packages of ``root`` that are Python's, besides the interpreter (what minimal purges)."""
    out = _run(["chroot", str(root), "dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package}\\n"]).stdout
    installed = [line.split()[1] for line in out.splitlines() if line.startswith("ii ")]
    return sorted(p for p in installed if p.startswith("python3-") and p not in KEPT)


def _purge_python_packages(root: Path) -> List[str]:
    packages = python_packages(root)
    if packages:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LANG="C.UTF-8", LC_ALL="C.UTF-8")
        _run(["chroot", str(root), "apt-get", "purge", "-y", "-q", *packages], env=env)
        _run(["chroot", str(root), "apt-get", "clean"], env=env)
    left = python_packages(root)
    if left:
        raise rootfs.RootfsError("the minimal image still has Python packages %s" % ", ".join(left))
    probe = subprocess.run(
        ["chroot", str(root), "python3", "-c", "import json, ssl, urllib.request, sqlite3"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        raise rootfs.RootfsError("python3 of the minimal image lost its standard library: %s" % probe.stderr)
    return packages


def _prune_minimal(keep: Path) -> None:
    """Minimal images of older full rootfs keys (or an older version of this file), unless an overlay uses them."""
    with open("/proc/self/mountinfo") as handle:
        in_use = handle.read()
    for old in rootfs.CACHE_DIR.glob("minimal-*"):
        if old != keep and ("lowerdir=%s" % old) not in in_use:
            shutil.rmtree(old, ignore_errors=True)


def _run(cmd: List[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        raise rootfs.RootfsError(
            "%s failed (rc=%d): %s" % (" ".join(cmd[:4]), proc.returncode, (proc.stderr or proc.stdout)[-2000:])
        )
    return proc
