#!/usr/bin/env bash
# The Debian base image `make ee` hands ansible-builder (EE_BASE_IMAGE), built here because the public execution
# environment bases (ee-minimal, ee-supported, centos stream) cannot be pulled on the test machines: debootstrap of
# the host's Debian suite from the host's own mirror (zerodown_testkit.fleet.rootfs.host_debian_source, as the fleet),
# imported with `podman import`. What ansible-builder v3 expects of a base: python3 with pip and venv/ensurepip
# (its pip_install step runs `python3 -m ensurepip`, assemble makes a venv), ca-certificates, and a package manager at
# options.package_manager_path that takes `install -y PKG...` and `clean all` - apt-get needs its lists first and has
# no `clean all`, hence /usr/local/sbin/zerodown-pkgmgr below (make ee passes it as --build-arg PKGMGR).
#
# Cached by content: the tag is a hash of this file, the mirror and the suite; an image with that tag is reused as is.
# Prints the image name on its last line. Run as root (debootstrap, podman).
set -euo pipefail

PACKAGES=python3,python3-pip,python3-venv,ca-certificates

read -r mirror suite < <(python3 -c 'from zerodown_testkit.fleet.rootfs import host_debian_source as s; print(*s())')
key=$( { cat "${BASH_SOURCE[0]}"; echo "$mirror $suite"; } | sha256sum | cut -c1-12)
image=localhost/zerodown-ee-base:$key

log() { printf '[ee-base] %s\n' "$*" >&2; }

if podman image exists "$image"; then
  log "cached: $image"
  echo "$image"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is not installed: run scripts/ensure-host.sh" >&2; exit 1; }

work=$(mktemp -d /var/tmp/zerodown-ee-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
started=$SECONDS
log "debootstrap $suite from $mirror (minbase + $PACKAGES)"
if ! LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive debootstrap --variant=minbase --include="$PACKAGES" \
  "$suite" "$root" "$mirror" >"$work/debootstrap.out" 2>&1; then
  tail -n 30 "$work/debootstrap.out" >&2
  [[ -f $root/debootstrap/debootstrap.log ]] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
  echo "debootstrap failed (above); the image needs $mirror reachable" >&2
  exit 1
fi

# apt for the build steps: the suite, its updates and security; no recommends, no documentation.
security=${mirror%/debian}/debian-security
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
SOURCES
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/90zerodown-ee"
printf 'path-exclude=/usr/share/doc/*\npath-exclude=/usr/share/man/*\npath-exclude=/usr/share/info/*\n' \
  >"$root/etc/dpkg/dpkg.cfg.d/90zerodown-ee"

# The package manager ansible-builder's scripts call: `install -y PKG...` (fresh lists first: the image's may be
# months old) and `clean all` (apt-get clean plus the lists).
cat >"$root/usr/local/sbin/zerodown-pkgmgr" <<'PKGMGR'
#!/bin/sh
# apt-get with the dnf verbs ansible-builder's scripts use (zerodown.deploy scripts/ee-base.sh).
set -e
export DEBIAN_FRONTEND=noninteractive
case "$1" in
  install) shift; apt-get update -qq; exec apt-get install -y -q "$@" ;;
  clean) apt-get clean; rm -rf /var/lib/apt/lists/*; exit 0 ;;
  *) exec apt-get "$@" ;;
esac
PKGMGR
chmod 755 "$root/usr/local/sbin/zerodown-pkgmgr"

chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/var/cache/debconf/*-old
rm -rf "$root/debootstrap"

log "podman import as $image"
tar -C "$root" --numeric-owner -cf - . | podman import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' \
  --message "zerodown.deploy execution environment base: debootstrap $suite $mirror" \
  - "$image" >/dev/null
log "built in $((SECONDS - started)) s: $image"
echo "$image"
