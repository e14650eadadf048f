"""``make ee``: the execution environment image from execution-environment.yml, built with ansible-builder and podman.

What it does, in order (each step cached, so a rebuild with nothing changed takes seconds):

1. the base: ``scripts/ee-base.sh`` (Debian from the host's mirror, ``podman import``, tagged by a content hash; the
   public bases cannot be pulled here) - passed to ansible-builder as ``--build-arg EE_BASE_IMAGE``, with its
   apt-get front end as ``--build-arg PKGMGR``;
2. the collection from this checkout: ``ansible-galaxy collection build`` into ``build/ee/zerodown-deploy.tar.gz``,
   the file execution-environment.yml installs. A tarball of the same files is kept as it was (the build writes new
   timestamps every time, which would miss podman's layer cache and redo the final stage);
3. pip in the build containers uses this machine's package index: its ``pip config list`` (index, extra indexes,
   find-links, CA bundle) becomes ``build/ee/pip.conf``, bind-mounted as the containers' ``/etc/pip.conf``, with the
   local directories it names mounted read-only under ``/run/zerodown-pip`` (``podman build -v``, so nothing of them
   lands in the image); the build runs on the host's network (``--network host``);
4. ``ansible-builder build --container-runtime podman`` with ``build/ee/context`` as the context, tagged
   ``localhost/zerodown-deploy-ee:<collection version>`` and ``:latest``.

Prints the image, its size and the seconds each part took; ``build/ee/image`` holds the image name afterwards.
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from zerodown_testkit.support.podman import podman_args

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "ee"
TARBALL = OUT / "zerodown-deploy.tar.gz"
IMAGE = "localhost/zerodown-deploy-ee"
PIP_MOUNT = "/run/zerodown-pip"
# pip settings that decide where packages come from; everything else of the host's pip config stays on the host.
PIP_KEYS = ("index-url", "extra-index-url", "find-links", "cert", "trusted-host")


class EEBuildError(Exception):
    pass


def log(message: str) -> None:
    print("[ee] " + message, file=sys.stderr, flush=True)


def run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, check=True, **kwargs)
    except FileNotFoundError:
        raise EEBuildError("%s is not installed: run `make host` (scripts/ensure-host.sh)" % cmd[0]) from None
    except subprocess.CalledProcessError as exc:
        raise EEBuildError("%s failed (exit %d)" % (" ".join(str(c) for c in cmd[:3]), exc.returncode)) from None


def collection_version() -> str:
    for line in (ROOT / "galaxy.yml").read_text().splitlines():
        if line.startswith("version:"):
            return line.split(":", 1)[1].strip()
    raise EEBuildError("galaxy.yml has no version: line")


def tar_content_digest(path: Path) -> str:
    """A hash of a tarball's members (names, modes, contents), blind to the timestamps the build writes."""
    digest = hashlib.sha256()
    with tarfile.open(path) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            digest.update(("%s %o %s\n" % (member.name, member.mode, member.type)).encode())
            if member.isfile():
                digest.update(tar.extractfile(member).read())
    return digest.hexdigest()


def build_collection() -> str:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        run(
            ["ansible-galaxy", "collection", "build", "--force", "--output-path", tmp, str(ROOT)],
            stdout=subprocess.DEVNULL,
        )
        (built,) = Path(tmp).glob("zerodown-deploy-*.tar.gz")
        new = tar_content_digest(built)
        if TARBALL.exists() and tar_content_digest(TARBALL) == new:
            return "unchanged"
        shutil.copyfile(built, TARBALL)
        return "new"


def host_pip_settings() -> dict:
    """The host's effective pip settings that choose the package index (``pip config list``, environment first)."""
    out = run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    found: dict = {}
    for line in out.splitlines():
        key, _sep, value = line.partition("=")
        scope, _dot, name = key.partition(".")
        if name not in PIP_KEYS or scope not in (":env:", "global", "install"):
            continue
        value = value.strip().strip("'\"")
        if scope == ":env:" or name not in found:
            found[name] = value
    return found


def pip_conf_and_mounts(settings: dict) -> tuple:
    """pip.conf text for the build containers, and the ``-v`` mounts of the local paths it names.

    A ``file://`` index is mounted from its parent directory (a simple index's pages link to ``../../files``); a
    local path (find-links directory, CA bundle) as itself. A path that does not exist here is left out, as pip would.
    """
    mounts = []

    def mounted(path: str) -> str:
        target = "%s/%d-%s" % (PIP_MOUNT, len(mounts), os.path.basename(path.rstrip("/")) or "root")
        mounts.append("%s:%s:ro" % (path, target))
        return target

    conf = configparser.ConfigParser()
    conf["global"] = {}
    for name, value in settings.items():
        items = []
        for item in value.split():
            if item.startswith("file://"):
                parent, leaf = os.path.split(item[len("file://") :].rstrip("/"))
                if not os.path.isdir(os.path.join(parent, leaf)):
                    continue
                item = "file://%s/%s" % (mounted(parent), leaf)
            elif item.startswith("/"):
                if not os.path.exists(item):
                    continue
                item = mounted(item)
            items.append(item)
        if items:
            conf["global"][name] = " ".join(items)
    text = io.StringIO()
    conf.write(text)
    return text.getvalue(), mounts


def image_size(image: str) -> int:
    out = run(["podman", "image", "inspect", image], capture_output=True, text=True).stdout
    return int(json.loads(out)[0]["Size"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--no-cache", action="store_true", help="rebuild every layer of the image (not the base)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise EEBuildError("make ee runs podman and debootstrap as root; run it as root, as make setup")
    started = time.monotonic()

    base = run(["bash", str(ROOT / "scripts/ee-base.sh")], stdout=subprocess.PIPE, text=True)
    base_image = base.stdout.strip().splitlines()[-1]
    base_seconds = time.monotonic() - started
    log("base %s (%.0f s)" % (base_image, base_seconds))

    log("collection tarball: %s" % build_collection())

    conf, mounts = pip_conf_and_mounts(host_pip_settings())
    (OUT / "pip.conf").write_text(conf)
    cli = podman_args() + ["--network", "host", "-v", "%s:/etc/pip.conf:ro" % (OUT / "pip.conf")]
    for mount in mounts:
        cli += ["-v", mount]
    log("pip in the build: " + " ".join(conf.split()[1:]))

    version = collection_version()
    tags = ["%s:%s" % (IMAGE, version), "%s:latest" % IMAGE]
    cmd = [
        "ansible-builder",
        "build",
        "--container-runtime",
        "podman",
        "--file",
        str(ROOT / "execution-environment.yml"),
        "--context",
        str(OUT / "context"),
        "--tag",
        *tags,
        "--build-arg",
        "EE_BASE_IMAGE=" + base_image,
        "--build-arg",
        "PKGMGR=/usr/local/sbin/zerodown-pkgmgr",
        "--build-arg",
        "PYPKG=python3.11 python3-pip",
        "--extra-build-cli-args",
        " ".join(cli),
        "-v2",
    ]
    if args.no_cache:
        cmd.append("--no-cache")
    log(" ".join(cmd))
    image_started = time.monotonic()
    run(cmd)
    image_seconds = time.monotonic() - image_started
    (OUT / "image").write_text(tags[0] + "\n")
    size = image_size(tags[0])
    print(
        "image: %s  size: %.0f MB  base: %.0f s  image build: %.0f s  total: %.0f s"
        % (tags[0], size / 1e6, base_seconds, image_seconds, time.monotonic() - started)
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EEBuildError as exc:
        print("make ee: %s" % exc, file=sys.stderr)
        sys.exit(1)
