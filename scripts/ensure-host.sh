#!/usr/bin/env bash
# Prepare a Debian machine (as root) for the zerodown.deploy tests and demo:
# apt packages, and running PostgreSQL / MariaDB servers. Idempotent and quiet
# when everything is already there.
set -euo pipefail

APT_PACKAGES=(
  python3-venv python3-dev gcc git make rsync sqlite3 curl ca-certificates shellcheck
  haproxy nginx-light openssl chromium
  debootstrap systemd-container iproute2 iptables openssh-client
  postgresql postgresql-client mariadb-server mariadb-client
  # the sample app's keep-alive server, for its integration tests (the fleet rootfs has it too)
  python3-gunicorn
  # make ee: the execution environment image (ansible-builder drives podman; debootstrap builds its base)
  # runc: crun refuses the hybrid cgroup hierarchy of the test machines (zerodown_testkit/support/podman.py)
  podman runc
)

log() { printf '[ensure-host] %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
  echo "ensure-host.sh must run as root (it installs apt packages and starts services)" >&2
  exit 1
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  # nginx-light, nginx and nginx-core all provide /usr/sbin/nginx: accept any.
  if [[ $pkg == nginx-light ]] && command -v nginx >/dev/null 2>&1; then
    continue
  fi
  # Accept a preinstalled server of the same kind (e.g. postgresql-15 or a
  # vendor build of MariaDB) rather than pulling Debian's metapackage on top.
  case $pkg in
    postgresql) command -v pg_ctlcluster >/dev/null 2>&1 && continue ;;
    postgresql-client) command -v psql >/dev/null 2>&1 && continue ;;
    mariadb-server) { command -v mariadbd >/dev/null 2>&1 || command -v mysqld >/dev/null 2>&1; } && continue ;;
    mariadb-client) command -v mysql >/dev/null 2>&1 && continue ;;
  esac
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps the new services from starting under the package
  # manager; the tests start their own instances on private ports.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

# PostgreSQL: the tests talk to 127.0.0.1:5432 as the postgres superuser.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  log "starting PostgreSQL"
  version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
  if [[ -z $version ]]; then
    echo "PostgreSQL is installed but has no cluster under /etc/postgresql" >&2
    exit 1
  fi
  if ! pg_lsclusters -h | grep -q "^$version main"; then
    pg_createcluster "$version" main >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
  pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL did not start" >&2; exit 1; }
fi
# Trust auth on loopback is what the test suite expects; a fresh Debian
# cluster uses scram for TCP, so the tests connect with the postgres role and
# a known password instead of relying on trust.
su postgres -c "psql -qAtc \"ALTER ROLE postgres PASSWORD 'postgres'\"" >/dev/null 2>&1 || true

# MariaDB: root over TCP on 127.0.0.1:3306.
if ! mysqladmin -h 127.0.0.1 -P 3306 -uroot status >/dev/null 2>&1; then
  if ! mysqladmin --protocol=socket -uroot status >/dev/null 2>&1; then
    log "starting MariaDB"
    mkdir -p /run/mysqld
    chown mysql:mysql /run/mysqld 2>/dev/null || true
    daemon=$(command -v mariadbd || command -v mysqld || echo /usr/sbin/mariadbd)
    start-stop-daemon --start --oknodo --background --exec "$daemon"
    for _ in $(seq 1 100); do mysqladmin --protocol=socket -uroot status >/dev/null 2>&1 && break; sleep 0.2; done
  fi
  # A fresh Debian MariaDB lets root in only over the unix socket; the tests
  # connect over TCP as root without a password, as on the CI machines.
  mysql --protocol=socket -uroot -e \
    "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket; FLUSH PRIVILEGES;" \
    >/dev/null 2>&1 || true
  mysqladmin -h 127.0.0.1 -P 3306 -uroot status >/dev/null 2>&1 || {
    echo "MariaDB is not reachable on 127.0.0.1:3306 as root without a password" >&2
    exit 1
  }
fi
log "host ready"
