"""Build and cache the Debian root filesystem every fleet machine boots from.

The rootfs is made once with debootstrap and kept under
``/var/cache/zerodown-fleet/rootfs-<key>``, where ``<key>`` hashes the
package list, the mirror, the suite and this file: change any of them and
the next ``fleet up`` builds a fresh one; otherwise it is reused. The
machines have no route out, so every package they need is baked in here.

Machine-specific things (hostname, machine-id, address, SSH host key,
which of haproxy/postgresql runs) are NOT in the rootfs; ``fleet up`` writes
them into each machine's overlay.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Optional, Tuple

CACHE_DIR = Path(os.environ.get("ZERODOWN_FLEET_CACHE", "/var/cache/zerodown-fleet"))

PACKAGES = (
    # boot and manage
    "systemd",
    "systemd-sysv",
    "dbus",
    "sudo",
    "procps",
    "iproute2",
    "iputils-ping",
    "ca-certificates",
    # Ansible over SSH
    "openssh-server",
    "python3",
    "python3-apt",
    # releases are tarballs; the app talks to PostgreSQL
    "tar",
    "gzip",
    "xz-utils",
    "rsync",
    "unzip",
    "acl",
    "curl",
    "socat",
    "python3-psycopg2",
    "python3-psycopg",
    "python3-gunicorn",  # the sample app's keep-alive server (gthread worker)
    # lb1 and db1 (disabled in the image, enabled per machine)
    "haproxy",
    "nginx-light",
    "postgresql",
    "postgresql-client",
)

# Services that only waste the shared CPU in a throw-away machine, or that
# would wait for a network that is not there.
_DISABLED_UNITS = (
    "haproxy.service",
    "nginx.service",
    "postgresql.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "fstrim.timer",
    "man-db.timer",
    "logrotate.timer",
)
_MASKED_UNITS = (
    "systemd-networkd-wait-online.service",
    "console-getty.service",
    "getty@.service",
    "systemd-timesyncd.service",
)


class RootfsError(Exception):
    pass


def host_debian_source() -> Tuple[str, str]:
    """The mirror and suite the host's own apt uses (first Debian ``main`` entry)."""
    candidates = []
    srcdir = Path("/etc/apt")
    files = [srcdir / "sources.list"] + sorted((srcdir / "sources.list.d").glob("*"))
    for path in files:
        if not path.is_file() or "disabled" in path.name:
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.strip()
                if "deb" not in fields.get("types", "").split():
                    continue
                for uri in fields.get("uris", "").split():
                    for suite in fields.get("suites", "").split():
                        candidates.append((uri, suite))
        elif path.suffix == ".list":
            for line in text.splitlines():
                parts = line.split("#", 1)[0].split()
                if len(parts) >= 3 and parts[0] == "deb":
                    parts = [p for p in parts if not p.startswith("[")]
                    candidates.append((parts[1], parts[2]))
    for uri, suite in candidates:
        if "security" not in uri and "-" not in suite and "debian" in uri:
            return uri.rstrip("/"), suite
    return "http://deb.debian.org/debian", "bookworm"


def cache_key(mirror: str, suite: str) -> str:
    digest = hashlib.sha256()
    digest.update(Path(__file__).read_bytes())
    digest.update("\n".join(PACKAGES).encode())
    digest.update(("%s %s" % (mirror, suite)).encode())
    return digest.hexdigest()[:16]


def rootfs_path(mirror: Optional[str] = None, suite: Optional[str] = None) -> Path:
    if mirror is None or suite is None:
        host_mirror, host_suite = host_debian_source()
        mirror = mirror or host_mirror
        suite = suite or host_suite
    return CACHE_DIR / ("rootfs-" + cache_key(mirror, suite))


def ensure_rootfs(mirror: Optional[str] = None, suite: Optional[str] = None, log=print) -> Path:
    """Return the cached rootfs for this package list, building it first if needed."""
    host_mirror, host_suite = host_debian_source()
    mirror = mirror or host_mirror
    suite = suite or host_suite
    target = CACHE_DIR / ("rootfs-" + cache_key(mirror, suite))
    if (target / ".zerodown-complete").exists():
        return target
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # Two fleets coming up at once build the image once.
    with open(CACHE_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".zerodown-complete").exists():
            return target
        if shutil.which("debootstrap") is None:
            raise RootfsError("debootstrap is not installed: run scripts/ensure-host.sh (apt-get install debootstrap)")
        work = CACHE_DIR / (".build-%s-%d" % (target.name, os.getpid()))
        for stale in CACHE_DIR.glob(".build-*"):
            _unmount_under(stale)
            shutil.rmtree(stale, ignore_errors=True)
        started = time.monotonic()
        log("building the fleet rootfs with debootstrap (%s %s) into %s" % (mirror, suite, target))
        env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", DEBIAN_FRONTEND="noninteractive")
        cmd = [
            "debootstrap",
            "--variant=minbase",
            "--include=" + ",".join(PACKAGES),
            suite,
            str(work),
            mirror,
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr)[-3000:]
            logfile = work / "debootstrap/debootstrap.log"
            if logfile.exists():
                tail += "\n--- debootstrap.log ---\n" + logfile.read_text(errors="replace")[-3000:]
            shutil.rmtree(work, ignore_errors=True)
            raise RootfsError("debootstrap failed (rc=%d):\n%s" % (proc.returncode, tail))
        _customise(work)
        (work / ".zerodown-complete").write_text("%s %s\n%s\n" % (mirror, suite, "\n".join(PACKAGES)))
        shutil.rmtree(target, ignore_errors=True)
        os.rename(work, target)
        log("rootfs built in %.0f s" % (time.monotonic() - started))
        prune(keep=target)
    return target


def _customise(root: Path) -> None:
    """Turn the debootstrap tree into a generic machine image."""

    def chroot(*args: str) -> None:
        subprocess.run(["chroot", str(root), *args], check=True, capture_output=True)

    for unit in _DISABLED_UNITS:
        subprocess.run(["chroot", str(root), "systemctl", "disable", unit], check=False, capture_output=True)
    for unit in _MASKED_UNITS:
        chroot("systemctl", "mask", unit)
    chroot("systemctl", "enable", "systemd-networkd.service")
    # Every machine gets its own machine-id and host key from `fleet up`.
    (root / "etc/machine-id").write_text("")
    dbus_id = root / "var/lib/dbus/machine-id"
    if dbus_id.exists() or dbus_id.is_symlink():
        dbus_id.unlink()
    dbus_id.parent.mkdir(parents=True, exist_ok=True)
    dbus_id.symlink_to("/etc/machine-id")
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/ssh/sshd_config.d/zerodown-fleet.conf").write_text(
        "HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\nUseDNS no\nPermitRootLogin prohibit-password\n"
    )
    for name in ("etc/hostname",):
        path = root / name
        if path.exists():
            path.unlink()
    # PostgreSQL listens on the fleet network; fleet up adds the pg_hba line.
    for conf_d in (root / "etc/postgresql").glob("*/main/conf.d"):
        # port: the cluster was created while the build host's own PostgreSQL held 5432
        (conf_d / "zerodown-fleet.conf").write_text("listen_addresses = '*'\nport = 5432\n")
    # journald: keep logs in memory, small.
    jconf = root / "etc/systemd/journald.conf.d"
    jconf.mkdir(parents=True, exist_ok=True)
    (jconf / "zerodown-fleet.conf").write_text("[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\n")
    chroot("apt-get", "clean")
    for lists in (root / "var/lib/apt/lists").glob("*_Packages"):
        lists.unlink()


def clean_stale_builds() -> None:
    """Remove half-built images (a killed ``fleet up``), unless a build is running now."""
    if not CACHE_DIR.is_dir():
        return
    with open(CACHE_DIR / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        for stale in CACHE_DIR.glob(".build-*"):
            _unmount_under(stale)
            shutil.rmtree(stale, ignore_errors=True)


def _unmount_under(path: Path) -> None:
    prefix = str(path) + "/"
    with open("/proc/self/mountinfo") as handle:
        points = [line.split()[4] for line in handle if line.split()[4].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        if subprocess.run(["umount", point], check=False, capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)


def prune(keep: Path, newest: int = 3) -> None:
    """Remove cached images beyond the ``newest`` built, unless a mounted overlay uses them.

    Several images can be in use at once (checkouts at different commits), so
    a few recent ones stay.
    """
    with open("/proc/self/mountinfo") as handle:
        in_use = handle.read()

    def built(path: Path) -> float:
        marker = path / ".zerodown-complete"
        return marker.stat().st_mtime if marker.exists() else 0.0

    images = sorted(CACHE_DIR.glob("rootfs-*"), key=built, reverse=True)
    for old in images[newest:]:
        if old != keep and ("lowerdir=%s" % old) not in in_use:
            shutil.rmtree(old, ignore_errors=True)
