"""The test fleet: systemd-nspawn machines on a private bridge.

One fleet is ``<n>`` app hosts (app1..appN), one load balancer (lb1: HAProxy
on :80 and, beside it, nginx on :8081, both in front of every app host) and
one database host (db1, PostgreSQL), each a systemd-nspawn machine booted
with real systemd and sshd from an overlayfs copy of the cached rootfs, with
its own address on a bridge that has no route out (no gateway, no NAT,
forwarding off).

Everything a fleet creates is named after the fleet, so ``down`` can find it
from the name alone, even after ``up`` was killed half-way:

* state:    ``/var/lib/zerodown-fleet/<name>/`` (keys, inventory, overlays)
* cgroups:  ``/sys/fs/cgroup/{systemd,unified}/zerodown-fleet/<name>/<host>``
            (the host's PID 1 is not systemd, so nspawn runs with
            ``--keep-unit --register=no`` in a cgroup of our own); the CLI's
            ``up`` also runs itself in ``.../<name>/ctl`` so that ``down``
            ends a concurrent or orphaned ``up`` and its children too
* mounts:   one overlay per machine under the state directory
* network:  the bridge ``zdf-<name>``; nspawn's veths die with the machines
"""

from __future__ import annotations

import binascii
import fcntl
import hashlib
import importlib.util
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from . import images, releases
from . import rootfs as rootfs_mod

REPO = Path(__file__).resolve().parents[3]
STATE_ROOT = Path(os.environ.get("ZERODOWN_FLEET_STATE", "/var/lib/zerodown-fleet"))


def _cgroup_roots() -> tuple:
    """The cgroup hierarchies a machine needs its own group in.

    A hybrid layout (this CI machine: cgroup v1 controllers, ``name=systemd`` at
    /sys/fs/cgroup/systemd and cgroup2 at /sys/fs/cgroup/unified) needs both;
    a pure cgroup2 machine has one hierarchy at /sys/fs/cgroup.
    """
    mounts = {}
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            sep = fields.index("-")
            mounts[fields[4]] = (fields[sep + 1], fields[-1])
    if mounts.get("/sys/fs/cgroup", ("",))[0] == "cgroup2":
        return (Path("/sys/fs/cgroup"),)
    roots = tuple(Path(p) for p in ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified") if p in mounts)
    return roots or (Path("/sys/fs/cgroup/systemd"), Path("/sys/fs/cgroup/unified"))


CGROUP_ROOTS = _cgroup_roots()
CGROUP_PARENT = "zerodown-fleet"
NAME_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$")
DEFAULT_NAME = "zdfleet"
APP_NAME = "demoapp"
APP_PORT = 8080
# zerodown_surge (docs/surge.md): each app host's second instance slot, one port up; its HAProxy server is
# <host>_<slot> and its nginx server <ip>:<port>, as the deploy plan names them by default
SURGE_SLOT = "b"
SURGE_PORT = APP_PORT + 1
HAPROXY_ADMIN_PORT = 9999
HAPROXY_SOCKET = "/run/haproxy/admin.sock"
# nginx on lb1, beside HAProxy: its own port, one upstream whose server lines the zerodown modules own
NGINX_PORT = 8081
NGINX_CONF = "/etc/nginx/nginx.conf"
NGINX_SERVERS_FILE = "/etc/nginx/zerodown/app.servers"
NGINX_PID_FILE = "/run/nginx.pid"
NGINX_UPSTREAM = "app"
# the access log canary_analysis reads (zerodown_lb.nginx.access_log), in the collection's log_format
# (plugins/module_utils/lb/nginx_log.py LOG_FORMAT_DIRECTIVE; a unit test keeps the two equal)
NGINX_ACCESS_LOG = "/var/log/nginx/zerodown-access.log"
NGINX_LOG_FORMAT = (
    "log_format zerodown "
    """'"$upstream_addr" "$upstream_status" "$upstream_connect_time" "$upstream_header_time" "$upstream_response_time"';"""
)
# The first line zerodown.deploy's nginx provider writes (plugins/module_utils/lb/nginx.py HEADER_PREFIX; a unit
# test keeps the two equal): the fleet's file reads back byte for byte as the modules would write it.
NGINX_SERVERS_HEADER = "# Managed by zerodown.deploy (drain_backend / switch_traffic): upstream "
DB_NAME = "demoapp"
DB_USER = "demoapp"
DB_PASSWORD = "demoapp"  # noqa: S105 - a throw-away database on a private bridge


def _load_wait():
    """The collection's one waiter (plugins/module_utils/_wait.py), without Ansible on the path."""
    spec = importlib.util.spec_from_file_location("_zerodown_wait", REPO / "plugins/module_utils/_wait.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_wait = _load_wait()
wait_until = _wait.wait_until
WaitTimeout = _wait.WaitTimeout


class FleetError(Exception):
    pass


def _lock_path(name: str) -> Path:
    lock_dir = Path("/run/lock") if Path("/run/lock").is_dir() else Path("/tmp")
    return lock_dir / ("zerodown-fleet-%s.lock" % name)


def bridge_name(name: str) -> str:
    """``zdf-<name>``, or for a long name a hashed form: interface names have at most 15 characters."""
    if len(name) <= 11:
        return "zdf-" + name
    return "zdf-%s-%s" % (name[:4], hashlib.sha1(name.encode()).hexdigest()[:6])  # noqa: S324 - a name, not security


def default_name() -> str:
    """``$ZERODOWN_FLEET_NAME``; under molecule one name per checkout and scenario; else ``zdfleet``.

    Several people run molecule on one machine at once: deriving the name from
    the project directory and the scenario keeps their fleets apart, and every
    step of a scenario (create, the inventory script, verify, destroy) agrees
    on it without being told.
    """
    name = os.environ.get("ZERODOWN_FLEET_NAME")
    if name:
        return name
    project, scenario = os.environ.get("MOLECULE_PROJECT_DIRECTORY"), os.environ.get("MOLECULE_SCENARIO_NAME")
    if project and scenario:
        digest = hashlib.sha1(("%s:%s" % (os.path.realpath(project), scenario)).encode()).hexdigest()  # noqa: S324
        return "m" + digest[:9]
    return DEFAULT_NAME


def _routes() -> List[tuple]:
    """(network, device) of every IPv4 route on this machine."""
    out = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True, check=False).stdout
    routes = []
    for line in out.splitlines():
        parts = line.split()
        if not parts or parts[0] == "default":
            continue
        dev = parts[parts.index("dev") + 1] if "dev" in parts else ""
        try:
            routes.append((ipaddress.ip_network(parts[0], strict=False), dev))
        except ValueError:
            continue
    return routes


def _overlapping_route(net, own_bridge: str) -> Optional[str]:
    for other, dev in _routes():
        if dev != own_bridge and other.overlaps(net):
            return "%s dev %s" % (other, dev)
    return None


@dataclass
class Host:
    name: str
    group: str
    ip: str


@dataclass
class FleetSpec:
    name: str = DEFAULT_NAME
    app_hosts: int = 4
    subnet: str = ""
    state_dir: str = ""
    hosts: List[Host] = field(default_factory=list)
    #: What the app hosts boot from (images.IMAGES): ``full``, or ``minimal`` - python3 and no other Python package.
    app_image: str = images.DEFAULT_IMAGE

    def __post_init__(self) -> None:
        if self.app_image not in images.IMAGES:
            raise FleetError("image %r is not valid: use one of %s" % (self.app_image, ", ".join(images.IMAGES)))
        if not NAME_RE.match(self.name):
            raise FleetError(
                "fleet name %r is not valid: use 1-32 lower-case letters, digits or inner dashes, starting with a "
                "letter (it names the fleet's cgroups, machines, bridge and state directory)" % (self.name,)
            )
        if not isinstance(self.app_hosts, int) or not 1 <= self.app_hosts <= 200:
            raise FleetError("app host count %r is not valid: use 1 to 200" % (self.app_hosts,))
        if not self.subnet:
            # A stable, name-derived private /24, moved on if another network (another fleet) has it.
            start = binascii.crc32(self.name.encode()) % 200
            for i in range(200):
                candidate = "10.213.%d.0/24" % (20 + (start + i) % 200)
                if not _overlapping_route(ipaddress.ip_network(candidate), self.bridge):
                    self.subnet = candidate
                    break
            else:
                raise FleetError("no free /24 left in 10.213.0.0/16: give one with --subnet")
        try:
            net = ipaddress.ip_network(self.subnet)
        except ValueError as exc:
            raise FleetError(
                "subnet %r is not valid: give a private IPv4 /24 such as 10.213.7.0/24" % self.subnet
            ) from exc
        if net.version != 4 or net.prefixlen != 24 or not net.is_private:
            raise FleetError("subnet %r is not valid: give a private IPv4 /24 such as 10.213.7.0/24" % self.subnet)
        self.subnet = str(net)
        if not self.state_dir:
            self.state_dir = str(STATE_ROOT / self.name)
        state = Path(self.state_dir).resolve()
        if state == REPO or REPO in state.parents:
            raise FleetError("state directory %s is inside the repository: put it elsewhere" % state)
        self.state_dir = str(state)
        base = list(net.hosts())
        self.hosts = [Host("lb1", "lb", str(base[1])), Host("db1", "db", str(base[2]))]
        self.hosts += [Host("app%d" % i, "app", str(base[9 + i])) for i in range(1, self.app_hosts + 1)]

    # -- names derived from the fleet name ------------------------------------------------------------
    @property
    def bridge(self) -> str:
        return bridge_name(self.name)

    @property
    def gateway(self) -> str:
        return str(list(ipaddress.ip_network(self.subnet).hosts())[0])

    @property
    def state(self) -> Path:
        return Path(self.state_dir)

    @property
    def key(self) -> Path:
        return self.state / "id_ed25519"

    @property
    def inventory(self) -> Path:
        return self.state / "inventory.yml"

    @property
    def ssh_config(self) -> Path:
        return self.state / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.state / "known_hosts"

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise FleetError(
            "no host %r in fleet %s: hosts are %s" % (name, self.name, ", ".join(h.name for h in self.hosts))
        )

    def group(self, group: str) -> List[Host]:
        return [h for h in self.hosts if h.group == group]

    def machine_dir(self, host: str) -> Path:
        return self.state / "machines" / host

    def facts(self) -> Dict[str, object]:
        lb = self.host("lb1").ip
        db = self.host("db1").ip
        return {
            "fleet_name": self.name,
            "fleet_app_image": self.app_image,
            "fleet_subnet": self.subnet,
            "fleet_controller_ip": self.gateway,
            "fleet_lb_url": "http://%s/" % lb,
            "fleet_haproxy_socket": HAPROXY_SOCKET,
            "fleet_haproxy_admin": "%s:%d" % (lb, HAPROXY_ADMIN_PORT),
            "fleet_haproxy_backend": "app",
            # nginx on lb1 beside HAProxy (a deploy with zerodown_lb.provider nginx goes through it)
            "fleet_nginx_url": "http://%s:%d/" % (lb, NGINX_PORT),
            "fleet_nginx_conf": NGINX_CONF,
            "fleet_nginx_servers_file": NGINX_SERVERS_FILE,
            "fleet_nginx_pid_file": NGINX_PID_FILE,
            "fleet_nginx_upstream": NGINX_UPSTREAM,
            "fleet_nginx_access_log": NGINX_ACCESS_LOG,
            "fleet_app_name": APP_NAME,
            "fleet_app_port": APP_PORT,
            "fleet_db_host": db,
            "fleet_db_port": 5432,
            "fleet_db_name": DB_NAME,
            "fleet_db_user": DB_USER,
            "fleet_db_password": DB_PASSWORD,
            # demoapp-<release>.tar.gz (+ .sha256) and releases.json, built by `fleet up`
            "fleet_releases_dir": str(self.state / "releases"),
        }


def cgroup_dirs(name: str, leaf: Optional[str] = None) -> List[Path]:
    parts = [CGROUP_PARENT, name] + ([leaf] if leaf else [])
    return [root.joinpath(*parts) for root in CGROUP_ROOTS]


def _run(cmd: List[str], check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    proc = subprocess.run(cmd, check=False, **kwargs)
    if check and proc.returncode != 0:
        raise FleetError(
            "%s failed (rc=%d): %s" % (" ".join(cmd), proc.returncode, (proc.stderr or proc.stdout).strip())
        )
    return proc


def load_spec(name: str = DEFAULT_NAME, state_dir: Optional[str] = None) -> Optional[FleetSpec]:
    """The spec a fleet was brought up with, or None when there is no state for it."""
    state = Path(state_dir) if state_dir else STATE_ROOT / name
    path = state / "fleet.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return FleetSpec(
        name=data["name"],
        app_hosts=data["app_hosts"],
        subnet=data["subnet"],
        state_dir=data["state_dir"],
        app_image=data.get("app_image", images.DEFAULT_IMAGE),
    )


# -- processes and cgroups ---------------------------------------------------------------------------


def join_cgroup(name: str, leaf: str = "ctl") -> None:
    """Move this process into the fleet's control cgroup, so ``down`` can end it and its children."""
    for directory in cgroup_dirs(name, leaf):
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cgroup.procs").write_text(str(os.getpid()))


def _cgroup_pids(directory: Path) -> List[int]:
    pids: List[int] = []
    if not directory.is_dir():
        return pids
    # os.walk, not Path.rglob: a running machine's systemd adds and removes cgroups below ours while we walk
    # (units starting at boot), and os.walk skips a directory that vanished where rglob raises FileNotFoundError
    for root, _dirs, files in os.walk(directory):
        if "cgroup.procs" not in files:
            continue
        try:
            pids += [int(p) for p in Path(root, "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            continue
    return pids


def kill_cgroup(name: str, leaf: Optional[str] = None, timeout: float = 15.0) -> None:
    """SIGKILL every process in the fleet's (or one machine's) cgroups and remove the cgroups."""
    me = os.getpid()
    dirs = cgroup_dirs(name, leaf)

    def sweep() -> bool:
        alive = False
        for directory in dirs:
            kill_file = directory / "cgroup.kill"
            if kill_file.exists() and not _cgroup_pids_contains(directory, me):
                try:
                    kill_file.write_text("1")
                except OSError:
                    pass
            for pid in _cgroup_pids(directory):
                if pid == me:
                    continue
                alive = True
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return not alive

    try:
        wait_until(sweep, timeout=timeout, interval=0.1, description="processes of fleet %s gone" % name)
    except WaitTimeout as exc:
        raise FleetError("processes of fleet %s survived SIGKILL for %ss: %s" % (name, timeout, exc)) from exc
    for directory in dirs:
        _rmdir_tree(directory)


def _cgroup_pids_contains(directory: Path, pid: int) -> bool:
    return pid in _cgroup_pids(directory)


def _rmdir_tree(directory: Path) -> None:
    if not directory.is_dir():
        return
    # cgroup directories are removed with rmdir, deepest first; their files are not real files.
    subdirs = sorted((p for p in directory.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    for sub in subdirs + [directory]:
        for _attempt in range(50):
            try:
                sub.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)


# -- mounts and network --------------------------------------------------------------------------------


def _mounts_under(path: Path) -> List[str]:
    prefix = str(path).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            mount_point = line.split()[4].replace("\\040", " ")
            if mount_point == str(path) or mount_point.startswith(prefix):
                found.append(mount_point)
    return sorted(set(found), key=len, reverse=True)


def unmount_all(path: Path) -> None:
    for _attempt in range(3):
        points = _mounts_under(path)
        if not points:
            return
        for point in points:
            if _run(["umount", point], check=False).returncode != 0:
                _run(["umount", "-l", point], check=False)
    leftover = _mounts_under(path)
    if leftover:
        raise FleetError("could not unmount %s" % ", ".join(leftover))


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def _bridge_ports(bridge: str) -> List[str]:
    brif = Path("/sys/class/net", bridge, "brif")
    return sorted(p.name for p in brif.iterdir()) if brif.is_dir() else []


def ensure_bridge(spec: FleetSpec) -> None:
    net = ipaddress.ip_network(spec.subnet)
    if not _link_exists(spec.bridge):
        clash = _overlapping_route(net, spec.bridge)
        if clash:
            raise FleetError(
                "subnet %s overlaps the route %r on this machine: choose another with --subnet" % (net, clash)
            )
        _run(["ip", "link", "add", spec.bridge, "type", "bridge"])
    _run(["ip", "addr", "replace", "%s/24" % spec.gateway, "dev", spec.bridge])
    _run(["ip", "link", "set", spec.bridge, "up"])


def delete_bridge(bridge: str) -> None:
    if not _link_exists(bridge):
        return
    for port in _bridge_ports(bridge):
        _run(["ip", "link", "del", port], check=False)
    _run(["ip", "link", "del", bridge])


# -- machines ------------------------------------------------------------------------------------------


def machine_running(spec: FleetSpec, host: str) -> bool:
    """A machine runs when its cgroup holds processes and its overlay is mounted."""
    pids = _cgroup_pids(cgroup_dirs(spec.name, host)[0])
    return bool(pids) and bool(_mounts_under(spec.machine_dir(host) / "root"))


def kill_machine(spec: FleetSpec, host: str) -> None:
    """Power a machine off hard (every process SIGKILLed, as a host that dies); its disk (the overlay) stays."""
    kill_cgroup(spec.name, host)


def set_network(spec: FleetSpec, host: str, up: bool) -> None:
    """Cut (``up=False``) or restore a running machine's network from inside it (its host0 link down or up): the
    machine goes on running but nothing reaches it, as a host whose network fails."""
    mine = os.readlink("/proc/self/ns/net")
    inside = [pid for pid in _cgroup_pids(cgroup_dirs(spec.name, host)[0]) if _net_namespace(pid) not in (None, mine)]
    if not inside:
        raise FleetError("machine %s of fleet %s is not running" % (host, spec.name))
    _run(["nsenter", "--target", str(inside[0]), "--net", "ip", "link", "set", "host0", "up" if up else "down"])


def cut_network(spec: FleetSpec, host: str) -> None:
    """The fault of a host cut off: set_network(spec, host, up=False)."""
    set_network(spec, host, False)


def _net_namespace(pid: int) -> Optional[str]:
    try:
        return os.readlink("/proc/%d/ns/net" % pid)
    except OSError:
        return None


def restart_machine(spec: FleetSpec, host: str, boot_timeout: float = 120) -> None:
    """Boot a killed machine again on the disk it had (power on after a crash), until SSH answers."""
    if machine_running(spec, host):
        raise FleetError("machine %s of fleet %s is running: kill it first" % (host, spec.name))
    target = next(h for h in spec.hosts if h.name == host)
    proc = start_machine(spec, target)
    wait_ssh(spec, target, boot_timeout, proc)


def stop_machine(spec: FleetSpec, host: str) -> None:
    kill_cgroup(spec.name, host)
    unmount_all(spec.machine_dir(host))
    shutil.rmtree(spec.machine_dir(host), ignore_errors=True)


def _write(root: Path, relpath: str, text: str, mode: int = 0o644) -> None:
    path = root / relpath.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    path.write_text(text)
    os.chmod(path, mode)


def _enable(root: Path, unit: str, target: str = "multi-user.target") -> None:
    wants = root / "etc/systemd/system" / (target + ".wants")
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / unit
    if not link.is_symlink():
        template = re.sub(r"@[^.]+\.", "@.", unit)
        link.symlink_to("/lib/systemd/system/" + template)


def haproxy_config(spec: FleetSpec, surge: bool = False) -> str:
    """lb1's haproxy.cfg; with ``surge``, two servers per app host (docs/surge.md): the second slot's health-checked
    like the first (not ``disabled``, which the runtime API cannot lift), down while that slot does not run."""
    lb = spec.host("lb1").ip
    lines = []
    for h in spec.group("app"):
        lines.append("    server %s %s:%d check" % (h.name, h.ip, APP_PORT))
        if surge:
            lines.append("    server %s_%s %s:%d check" % (h.name, SURGE_SLOT, h.ip, SURGE_PORT))
    servers = "\n".join(lines)
    return """# Written by the zerodown test fleet (zerodown_testkit.fleet). No retries and no
# redispatch: a request sent to a server that is stopping must show up as a
# failure, not be hidden by HAProxy trying another server.
global
    log /dev/log local0
    user haproxy
    group haproxy
    stats socket %(socket)s mode 660 level admin expose-fd listeners
    stats socket ipv4@%(lb)s:%(admin)d level admin
    stats timeout 30s

defaults
    mode http
    log global
    option httplog
    option dontlognull
    # only failed or abnormal requests reach the journal: load tests send ~1000/s
    option dontlog-normal
    # Keep-alive on both sides, and idle server connections shared between
    # clients (http-reuse always), as busy production fleets run: a deploy must
    # not send a request down a connection to an app that is stopping. The
    # app's keep-alive (gunicorn, 75 s) outlives the idle connections HAProxy
    # keeps (timeout server), so only HAProxy closes an idle one.
    option http-keep-alive
    http-reuse always
    retries 0
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout queue 10s

frontend web
    bind :80
    default_backend app

backend app
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    default-server inter 500ms fastinter 250ms downinter 1s fall 2 rise 2
%(servers)s

listen stats
    bind :8404
    stats enable
    stats uri /stats
    stats refresh 5s
""" % {"socket": HAPROXY_SOCKET, "lb": lb, "admin": HAPROXY_ADMIN_PORT, "servers": servers}


def nginx_servers(spec: FleetSpec, surge: bool = False) -> str:
    """The upstream's servers include file as ``fleet up`` writes it: every app server ``addr:port``, in the pool;
    with ``surge`` each host's second slot after it, out of the pool (``down``, as the provider writes maint).

    Exactly the text the nginx provider renders for the same servers, so a deploy that ends with every server
    back in its state leaves the file as it found it.
    """
    lines = [NGINX_SERVERS_HEADER + NGINX_UPSTREAM]
    for h in spec.group("app"):
        lines.append("    server %s:%d;" % (h.ip, APP_PORT))
        if surge:
            lines.append("    server %s:%d down;  # zerodown: maint" % (h.ip, SURGE_PORT))
    return "\n".join(lines) + "\n"


def nginx_config(spec: FleetSpec) -> str:
    """lb1's nginx.conf (replacing Debian's, whose default site would take HAProxy's port 80)."""
    return """# Written by the zerodown test fleet (zerodown_testkit.fleet): nginx as a second
# load balancer on lb1, beside HAProxy, on its own port. No retries
# (proxy_next_upstream off, nginx's "retries 0"): a request sent to a server
# that is stopping must show up as a failure, not be replayed on another one.
user www-data;
worker_processes 1;
pid %(pid)s;
error_log /var/log/nginx/error.log warn;

events {
    worker_connections 1024;
}

http {
    # Only the log canary_analysis counts each server's requests from (zerodown.deploy's log_format, a short
    # line per request), unbuffered so that a request is in it once answered; no other access log.
    %(log_format)s
    access_log %(access_log)s %(log_format_name)s;
    # Client keep-alive is short, so a client that keeps a connection idle does not keep an old worker (one
    # that a reload told to finish) alive for long; old workers close idle keep-alive connections when told to
    # finish and serve the requests in flight to the end.
    keepalive_timeout 5s;
    keepalive_requests 1000;

    upstream %(upstream)s {
        # the server lines: owned by zerodown.deploy's drain_backend / switch_traffic
        include %(servers)s;
        # idle connections to the app kept and reused (HTTP/1.1 below); nginx closes them first (the app's
        # gunicorn keep-alive is 75 s), so a request never goes down a connection the app just closed
        keepalive 16;
        keepalive_timeout 60s;
    }

    server {
        listen %(port)d;
        location / {
            proxy_pass http://%(upstream)s;
            # keep-alive to the app: HTTP/1.1 and no "Connection: close" passed on
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream off;
            proxy_connect_timeout 2s;
            proxy_send_timeout 60s;
            proxy_read_timeout 60s;
        }
    }
}
""" % {
        "pid": NGINX_PID_FILE,
        "upstream": NGINX_UPSTREAM,
        "servers": NGINX_SERVERS_FILE,
        "port": NGINX_PORT,
        "log_format": NGINX_LOG_FORMAT,
        "access_log": NGINX_ACCESS_LOG,
        "log_format_name": "zerodown",
    }


def prepare_machine(spec: FleetSpec, host: Host, rootfs: Path, pubkey: str) -> None:
    mdir = spec.machine_dir(host.name)
    upper, work, root = mdir / "upper", mdir / "work", mdir / "root"
    for d in (upper, work, root):
        d.mkdir(parents=True, exist_ok=True)
    if not _mounts_under(root):
        _run(
            [
                "mount",
                "-t",
                "overlay",
                "overlay-zdf-%s-%s" % (spec.name, host.name),
                "-o",
                "lowerdir=%s,upperdir=%s,workdir=%s" % (rootfs, upper, work),
                str(root),
            ]
        )
    machine_id = uuid.uuid4()
    (mdir / "uuid").write_text(str(machine_id))
    _write(root, "/etc/machine-id", machine_id.hex + "\n", 0o444)
    _write(root, "/etc/hostname", host.name + "\n")
    hosts = ["127.0.0.1 localhost", "127.0.1.1 %s" % host.name, "%s controller" % spec.gateway]
    hosts += ["%s %s" % (h.ip, h.name) for h in spec.hosts]
    _write(root, "/etc/hosts", "\n".join(hosts) + "\n")
    _write(
        root,
        "/etc/systemd/network/10-host0.network",
        "[Match]\nName=host0\n\n[Network]\nAddress=%s/24\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n" % host.ip,
    )
    _write(root, "/root/.ssh/authorized_keys", pubkey, 0o600)
    os.chmod(root / "root/.ssh", 0o700)
    hostkey = root / "etc/ssh/ssh_host_ed25519_key"
    for path in (hostkey, hostkey.with_suffix(".pub")):
        if path.exists():
            path.unlink()
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@" + host.name, "-f", str(hostkey)])
    if host.group == "lb":
        _write(root, "/etc/haproxy/haproxy.cfg", haproxy_config(spec))
        _enable(root, "haproxy.service")
        _write(root, NGINX_CONF, nginx_config(spec))
        _write(root, NGINX_SERVERS_FILE, nginx_servers(spec))
        _enable(root, "nginx.service")
    if host.group == "db":
        for hba in root.glob("etc/postgresql/*/main/pg_hba.conf"):
            text = hba.read_text()
            line = "host all all %s scram-sha-256\n" % spec.subnet
            if line not in text:
                _write(root, str(hba.relative_to(root)), text + "# zerodown test fleet\n" + line)
                os.chown(hba, *_owner(root, "postgres"))
        for conf_d in root.glob("etc/postgresql/*/main/conf.d"):
            _write(root, str(conf_d.relative_to(root) / "zerodown-fleet.conf"), "listen_addresses = '*'\nport = 5432\n")
            _enable(root, "postgresql@%s-main.service" % conf_d.parent.parent.name)
        _enable(root, "postgresql.service")


def _owner(root: Path, user: str) -> tuple:
    for line in (root / "etc/passwd").read_text().splitlines():
        parts = line.split(":")
        if parts[0] == user:
            return int(parts[2]), int(parts[3])
    raise FleetError("user %s missing from the rootfs" % user)


def start_machine(spec: FleetSpec, host: Host) -> subprocess.Popen:
    mdir = spec.machine_dir(host.name)
    cgroups = cgroup_dirs(spec.name, host.name)
    for directory in cgroups:
        directory.mkdir(parents=True, exist_ok=True)
    cmd = [
        "systemd-nspawn",
        "--quiet",
        "--boot",
        "--register=no",
        "--keep-unit",
        "--machine=%s-%s" % (spec.name, host.name),
        "--hostname=%s" % host.name,
        "--uuid=%s" % (mdir / "uuid").read_text().strip(),
        "--directory=%s" % (mdir / "root"),
        "--network-bridge=%s" % spec.bridge,
        "--link-journal=no",
        "--resolv-conf=off",
        "--timezone=off",
        "--console=read-only",
    ]
    log = open(mdir / "console.log", "ab")  # noqa: SIM115 - handed to the child
    # The shell puts itself into the machine's cgroups, then becomes nspawn:
    # with --keep-unit nspawn runs the machine inside them.
    wrapper = 'for cg in "$@"; do [ "$cg" = -- ] && break; echo $$ > "$cg/cgroup.procs"; done; shift $(( $# - %d )); exec "$@"'
    argv = ["sh", "-c", wrapper % len(cmd), "sh"] + [str(c) for c in cgroups] + ["--"] + cmd
    proc = subprocess.Popen(  # noqa: S603
        argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True
    )
    log.close()
    (mdir / "nspawn.pid").write_text(str(proc.pid))
    return proc


# -- SSH -----------------------------------------------------------------------------------------------


def ssh_base(spec: FleetSpec) -> List[str]:
    return ["ssh", "-F", str(spec.ssh_config)]


def ssh(
    spec: FleetSpec, host: str, command: str, check: bool = True, timeout: float = 120, **kwargs
) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(
            ssh_base(spec) + [host, command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )
    except subprocess.TimeoutExpired as exc:
        raise FleetError("on %s, %r did not finish within %ss" % (host, command, timeout)) from exc
    if check and proc.returncode != 0:
        raise FleetError(
            "on %s, %r failed (rc=%d): %s" % (host, command, proc.returncode, (proc.stderr + proc.stdout).strip())
        )
    return proc


def _port_open(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_ssh(spec: FleetSpec, host: Host, timeout: float, proc: Optional[subprocess.Popen] = None) -> None:
    def ready() -> bool:
        stopped = proc.poll() is not None if proc is not None else not machine_running(spec, host.name)
        if stopped:
            raise FleetError(
                "machine %s stopped while booting; console log: %s\n%s"
                % (
                    host.name,
                    spec.machine_dir(host.name) / "console.log",
                    _tail(spec.machine_dir(host.name) / "console.log"),
                )
            )
        if not _port_open(host.ip, 22):
            return False
        return ssh(spec, host.name, "true", check=False, timeout=10).returncode == 0

    try:
        wait_until(ready, timeout=timeout, interval=0.2, description="SSH on %s (%s)" % (host.name, host.ip))
    except WaitTimeout as exc:
        raise FleetError("%s; console log:\n%s" % (exc, _tail(spec.machine_dir(host.name) / "console.log"))) from exc


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- files for Ansible and ssh -------------------------------------------------------------------------


def write_client_files(spec: FleetSpec) -> None:
    names = " ".join(h.name for h in spec.hosts)
    lines = [
        "# ssh -F %s <host>   (zerodown test fleet %s)" % (spec.ssh_config, spec.name),
        "Host %s" % names,
        "    User root",
        "    IdentityFile %s" % spec.key,
        "    IdentitiesOnly yes",
        "    UserKnownHostsFile %s" % spec.known_hosts,
        "    StrictHostKeyChecking no",
        "    LogLevel ERROR",
        "    ConnectTimeout 5",
    ]
    for h in spec.hosts:
        lines += ["Host %s" % h.name, "    HostName %s" % h.ip]
    _write(spec.state, "ssh_config", "\n".join(lines) + "\n")
    known = []
    for h in spec.hosts:
        pub = spec.machine_dir(h.name) / "root/etc/ssh/ssh_host_ed25519_key.pub"
        if pub.exists():
            key = " ".join(pub.read_text().split()[:2])
            known.append("%s,%s %s" % (h.name, h.ip, key))
    _write(spec.state, "known_hosts", "\n".join(known) + "\n")
    common = "-o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=%s" % spec.known_hosts
    inv = {
        "all": {
            "vars": dict(
                ansible_user="root",
                ansible_ssh_private_key_file=str(spec.key),
                ansible_ssh_common_args=common,
                ansible_python_interpreter="/usr/bin/python3",
                **spec.facts(),
            ),
            "children": {
                group: {"hosts": {h.name: {"ansible_host": h.ip} for h in spec.group(group)}}
                for group in ("app", "lb", "db")
            },
        }
    }
    # JSON is YAML: no PyYAML needed to write the inventory.
    _write(
        spec.state,
        "inventory.yml",
        "# zerodown test fleet %s (zerodown_testkit.fleet)\n" % spec.name + json.dumps(inv, indent=2) + "\n",
    )


def write_state(spec: FleetSpec, status: str) -> None:
    data = {
        "name": spec.name,
        "app_hosts": spec.app_hosts,
        "app_image": spec.app_image,
        "subnet": spec.subnet,
        "state_dir": spec.state_dir,
        "status": status,
        "bridge": spec.bridge,
        "inventory": str(spec.inventory),
        "ssh_config": str(spec.ssh_config),
        "key": str(spec.key),
        "hosts": [asdict(h) for h in spec.hosts],
        "facts": spec.facts(),
    }
    _write(spec.state, "fleet.json", json.dumps(data, indent=2) + "\n")


# -- post-boot set-up ----------------------------------------------------------------------------------


def setup_db(spec: FleetSpec) -> None:
    sql = (
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{DB_USER}') THEN "
        f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{DB_PASSWORD}'; END IF; END $$;"
    )
    script = (
        "set -e; for i in $(seq 1 100); do pg_isready -q && break; sleep 0.2; done; pg_isready -q; "
        "su postgres -c \"psql -qAt -v ON_ERROR_STOP=1\" <<'SQL'\n%s\n"
        "SELECT 'CREATE DATABASE %s OWNER %s' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '%s')\\gexec\n"
        "SQL\n" % (sql, DB_NAME, DB_USER, DB_NAME)
    )
    ssh(spec, "db1", script)


def check_lb(spec: FleetSpec) -> None:
    ssh(
        spec,
        "lb1",
        "for s in haproxy nginx; do systemctl is-active --quiet $s || systemctl restart $s; done; "
        "systemctl is-active haproxy nginx",
    )


# -- the commands ----------------------------------------------------------------------------------------


def up(spec: FleetSpec, boot_timeout: float = 180, log: Callable[[str], None] = print) -> FleetSpec:
    """Bring the fleet up; machines already running are left alone (idempotent).

    Two ``up`` of one fleet at once run one after the other (a lock outside
    the state directory, which ``down`` removes); the second finds the
    machines running.
    """
    with open(_lock_path(spec.name), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _up(spec, boot_timeout, log)


def _up(spec: FleetSpec, boot_timeout: float, log: Callable[[str], None]) -> FleetSpec:
    for tool in ("systemd-nspawn", "ip", "ssh", "ssh-keygen", "mount"):
        if shutil.which(tool) is None:
            raise FleetError("%s is not installed: run scripts/ensure-host.sh" % tool)
    if os.geteuid() != 0:
        raise FleetError("fleet up must run as root (it mounts overlays, creates a bridge and boots machines)")
    existing = load_spec(spec.name, spec.state_dir)
    if existing is not None and (existing.app_hosts, existing.subnet, existing.app_image) != (
        spec.app_hosts,
        spec.subnet,
        spec.app_image,
    ):
        raise FleetError(
            "fleet %s already exists with %d %s app hosts on %s (asked: %d %s on %s): run `fleet down --name %s` first"
            % (
                spec.name,
                existing.app_hosts,
                existing.app_image,
                existing.subnet,
                spec.app_hosts,
                spec.app_image,
                spec.subnet,
                spec.name,
            )
        )
    started = time.monotonic()
    spec.state.mkdir(parents=True, exist_ok=True)
    os.chmod(spec.state, 0o700)
    write_state(spec, "starting")
    image = rootfs_mod.ensure_rootfs(log=log)
    app_image = images.ensure_image(spec.app_image, log=log)
    if not spec.key.exists():
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "zerodown-fleet-" + spec.name, "-f", str(spec.key)])
    pubkey = spec.key.with_suffix(".pub").read_text()
    ensure_bridge(spec)
    to_start = [h for h in spec.hosts if not machine_running(spec, h.name)]
    for h in to_start:
        stop_machine(spec, h.name)  # leftovers of a killed run
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda h: prepare_machine(spec, h, app_image if h.group == "app" else image, pubkey), to_start))
    write_client_files(spec)
    procs = {h.name: start_machine(spec, h) for h in to_start}
    if to_start:
        log("booting %s" % ", ".join(h.name for h in to_start))
    with ThreadPoolExecutor(max_workers=len(spec.hosts)) as pool:
        list(pool.map(lambda h: wait_ssh(spec, h, boot_timeout, procs.get(h.name)), spec.hosts))
    setup_db(spec)
    check_lb(spec)
    releases.build_all(str(spec.state / "releases"))
    write_state(spec, "up")
    log(
        "fleet %s up in %.1f s: %s; inventory %s"
        % (
            spec.name,
            time.monotonic() - started,
            ", ".join("%s=%s" % (h.name, h.ip) for h in spec.hosts),
            spec.inventory,
        )
    )
    return spec


def down(name: str = DEFAULT_NAME, state_dir: Optional[str] = None, log: Callable[[str], None] = print) -> None:
    """Remove everything the fleet ``name`` created; safe on a half-made or absent fleet."""
    if not NAME_RE.match(name):
        raise FleetError("fleet name %r is not valid: see `fleet up --help`" % (name,))
    state = Path(state_dir) if state_dir else STATE_ROOT / name
    kill_cgroup(name)
    for root in CGROUP_ROOTS:  # the shared parent goes with the last fleet
        try:
            (root / CGROUP_PARENT).rmdir()
        except OSError:
            pass
    unmount_all(state)
    delete_bridge(bridge_name(name))
    # every `up` of this fleet, waiting on the lock or holding it, was in the cgroup just killed
    _lock_path(name).unlink(missing_ok=True)
    shutil.rmtree(state, ignore_errors=True)
    rootfs_mod.clean_stale_builds()
    log("fleet %s down" % name)


def leftovers(name: str = DEFAULT_NAME, state_dir: Optional[str] = None) -> List[str]:
    """Everything of fleet ``name`` still present on this machine (empty after a clean ``down``)."""
    state = Path(state_dir) if state_dir else STATE_ROOT / name
    found = []
    for directory in cgroup_dirs(name):
        if directory.exists():
            found.append("cgroup %s (pids %s)" % (directory, _cgroup_pids(directory)))
    found += ["mount %s" % m for m in _mounts_under(state)]
    if _lock_path(name).exists():
        found.append("lock file %s" % _lock_path(name))
    # nspawn names the host side of a machine's veth vb-<machine> (hashed when longer than
    # 15 characters; those die with the machine's network namespace like all the others)
    veth = re.compile(r"^vb-%s-(?:lb1|db1|app\d+)$" % re.escape(name))
    found += ["veth %s" % p.name for p in Path("/sys/class/net").iterdir() if veth.match(p.name)]
    if _link_exists(bridge_name(name)):
        found.append("bridge %s" % bridge_name(name))
    if state.exists():
        found.append("state directory %s" % state)
    machine_flag = re.compile(r"^--machine=%s-(?:lb1|db1|app\d+)$" % re.escape(name))
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = [a.decode(errors="replace") for a in (proc / "cmdline").read_bytes().split(b"\0")]
            root = os.readlink(proc / "root")
        except OSError:
            continue
        if any(machine_flag.match(a) for a in args) or root.startswith(str(state) + "/"):
            found.append("process %s: %s" % (proc.name, " ".join(args).strip()))
    return found


def status(name: str = DEFAULT_NAME, state_dir: Optional[str] = None) -> Dict[str, object]:
    spec = load_spec(name, state_dir)
    if spec is None:
        return {"name": name, "status": "absent", "leftovers": leftovers(name, state_dir)}
    hosts = {}
    for h in spec.hosts:
        running = machine_running(spec, h.name)
        hosts[h.name] = {"ip": h.ip, "group": h.group, "running": running, "ssh": running and _port_open(h.ip, 22)}
    data = json.loads((spec.state / "fleet.json").read_text())
    return {
        "name": spec.name,
        "status": data.get("status"),
        "subnet": spec.subnet,
        "bridge": spec.bridge if _link_exists(spec.bridge) else None,
        "inventory": str(spec.inventory),
        "ssh_config": str(spec.ssh_config),
        "hosts": hosts,
    }


def main_ssh(spec: FleetSpec, host: str, command: List[str]) -> int:
    spec.host(host)
    os.execvp("ssh", ssh_base(spec) + ["-t" if sys.stdin.isatty() and not command else "-T", host] + command)  # noqa: S606 - replace this process with an interactive ssh
    return 0
