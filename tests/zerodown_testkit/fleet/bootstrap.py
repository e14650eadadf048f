"""Install a release of the sample app on every app host, the simple way (SSH, no Ansible).

This only seeds a fleet with a running v1 so that deploy tests have something
to replace; the collection's ``release`` role is what deploys for real. The
layout is the one in docs/architecture.md (release layout on a host), which that role uses too::

    /opt/demoapp/releases/<release>/   the unpacked tarball (bin/start, app/, migrations/, VERSION)
    /opt/demoapp/shared/demoapp.env    database settings, kept across releases
    /opt/demoapp/current -> releases/<release>
    /etc/systemd/system/demoapp.service  ExecStart=/opt/demoapp/current/bin/start

The release's migrations are applied first (they are idempotent SQL), then
the app is (re)started everywhere, and the call returns once HAProxy reports
every app server UP.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import shlex
from concurrent.futures import ThreadPoolExecutor
from typing import Dict

from . import core, releases

UNIT = """[Unit]
Description=%(app)s (zerodown test fleet sample app)
After=network.target

[Service]
Type=simple
User=%(app)s
Group=%(app)s
EnvironmentFile=-/opt/%(app)s/shared/%(app)s.env
ExecStart=/opt/%(app)s/current/bin/start
Restart=always
RestartSec=1
# demoapp finishes its in-flight requests on SIGTERM; this bounds a stuck stop.
TimeoutStopSec=30
KillMode=mixed

[Install]
WantedBy=multi-user.target
"""


def _haproxy_module():
    path = core.REPO / "plugins" / "module_utils" / "lb" / "haproxy.py"
    module_spec = importlib.util.spec_from_file_location("_zerodown_haproxy", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


_HAPROXY = _haproxy_module()


def haproxy_runtime(spec: core.FleetSpec):
    """The collection's HAProxy runtime API client, on the LB's TCP admin socket."""
    return _HAPROXY.HAProxyRuntime(str(spec.facts()["fleet_haproxy_admin"]))


def server_states(spec: core.FleetSpec) -> Dict[str, str]:
    """app server name -> HAProxy status (UP, DOWN, MAINT, ...)."""
    try:
        servers = haproxy_runtime(spec).servers("app")
    except _HAPROXY.HAProxyError as exc:
        raise core.FleetError("HAProxy on lb1 did not answer: %s" % exc) from exc
    return {name: info["status"] for (_backend, name), info in servers.items()}


def ready_version(ip: str, port: int = core.APP_PORT) -> str:
    """The X-App-Version of a host whose /health/ready answers 200, else ''."""
    conn = http.client.HTTPConnection(ip, port, timeout=2)
    try:
        conn.request("GET", "/health/ready")
        resp = conn.getresponse()
        resp.read()
        return resp.getheader("X-App-Version", "") if resp.status == 200 else ""
    except OSError:
        return ""
    finally:
        conn.close()


def env_file(spec: core.FleetSpec) -> str:
    facts = spec.facts()
    text = (
        "DEMOAPP_PORT=%(fleet_app_port)s\nDEMOAPP_DB_HOST=%(fleet_db_host)s\nDEMOAPP_DB_PORT=%(fleet_db_port)s\n"
        "DEMOAPP_DB_NAME=%(fleet_db_name)s\nDEMOAPP_DB_USER=%(fleet_db_user)s\nDEMOAPP_DB_PASSWORD=%(fleet_db_password)s\n"
    ) % facts
    if spec.app_image == "minimal":
        # the minimal image has python3 and nothing else of Python's: every release serves from the standard library
        text += "DEMOAPP_SERVER=stdlib\n"
    return text


def install_script(release: releases.Release, spec: core.FleetSpec) -> str:
    app = core.APP_NAME
    base = "/opt/%s" % app
    rel_dir = "%s/releases/%s" % (base, release.name)
    unit = "/etc/systemd/system/%s.service" % app
    env = "%s/shared/%s.env" % (base, app)
    marker = "%s/.zerodown-sha256" % rel_dir
    return "\n".join(
        [
            "set -eu",
            # Already there and running: say so and change nothing (molecule's idempotence check).
            'if [ "$(readlink %s/current || true)" = releases/%s ] && [ "$(cat %s 2>/dev/null || true)" = %s ] \\'
            % (base, release.name, marker, release.sha256),
            "   && printf '%%s' %s | cmp -s - %s && printf '%%s' %s | cmp -s - %s && systemctl is-active --quiet %s; then"
            % (shlex.quote(UNIT % {"app": app}), unit, shlex.quote(env_file(spec)), env, app),
            "  cat >/dev/null; echo unchanged; exit 0",
            "fi",
            "id %s >/dev/null 2>&1 || useradd --system --home-dir %s --no-create-home --shell /usr/sbin/nologin %s"
            % (app, base, app),
            "mkdir -p %s/releases %s/shared" % (base, base),
            "tmp=$(mktemp)",
            'cat > "$tmp"',
            'echo "%s  $tmp" | sha256sum -c --quiet' % release.sha256,
            "rm -rf %s.new && mkdir -p %s.new" % (rel_dir, rel_dir),
            'tar -xzf "$tmp" -C %s.new && rm -f "$tmp"' % rel_dir,
            "echo %s > %s.new/.zerodown-sha256" % (release.sha256, rel_dir),
            # an identical release already unpacked stays as it is; anything else there is replaced
            'if [ "$(cat %s 2>/dev/null || true)" = %s ]; then rm -rf %s.new; else rm -rf %s && mv %s.new %s; fi'
            % (marker, release.sha256, rel_dir, rel_dir, rel_dir, rel_dir),
            "printf '%%s' %s > %s" % (shlex.quote(env_file(spec)), env),
            "chmod 640 %s && chgrp %s %s" % (env, app, env),
            "ln -sfn releases/%s %s/current.new && mv -T %s/current.new %s/current" % (release.name, base, base, base),
            "printf '%%s' %s > %s" % (shlex.quote(UNIT % {"app": app}), unit),
            "systemctl daemon-reload",
            "systemctl enable --quiet %s.service" % app,
            "systemctl restart %s.service" % app,
            "echo changed",
        ]
    )


def bootstrap(spec: core.FleetSpec, release_name: str = "v1", timeout: float = 60, log=print) -> releases.Release:
    release = releases.build(release_name, str(spec.state / "releases"))
    releases.build_all(str(spec.state / "releases"))
    data = release.path.read_bytes()
    if hashlib.sha256(data).hexdigest() != release.sha256:
        raise core.FleetError("release %s changed while being installed" % release.path)
    facts = spec.facts()
    migrate = "PGPASSWORD=%s psql -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -U %s %s" % (
        shlex.quote(str(facts["fleet_db_password"])),
        facts["fleet_db_user"],
        facts["fleet_db_name"],
    )
    core.ssh(spec, "db1", migrate, input=releases.migrations_sql(release_name))
    script = install_script(release, spec)

    changed = []

    def install(host: core.Host) -> None:
        proc = core.subprocess.run(
            core.ssh_base(spec) + [host.name, script],
            input=data,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            raise core.FleetError(
                "installing %s on %s failed: %s" % (release.name, host.name, proc.stderr.decode(errors="replace"))
            )
        if b"unchanged" not in proc.stdout:
            changed.append(host.name)

    apps = spec.group("app")
    with ThreadPoolExecutor(max_workers=len(apps)) as pool:
        list(pool.map(install, apps))
    # every server back in the pool at its configured weight, whatever a deploy left (a blue-green standby colour
    # in drain, canary weights), so that a bootstrapped fleet is always "one release, every server serving"
    runtime = haproxy_runtime(spec)
    runtime.apply(
        [runtime.weight_command("app", h.name, "100%") for h in apps]
        + [runtime.state_command("app", h.name, "ready") for h in apps]
    )

    def all_up() -> bool:
        # the new release answering on every host first: HAProxy may still show the old process UP
        if not all(ready_version(h.ip) == release.name for h in apps):
            return False
        try:
            states = server_states(spec)
        except core.FleetError:
            return False  # HAProxy busy or restarting: ask again
        return all(states.get(h.name, "").startswith("UP") for h in apps)

    try:
        core.wait_until(all_up, timeout=timeout, interval=0.25, description="every app server UP in HAProxy")
    except core.WaitTimeout as exc:
        try:
            states = server_states(spec)
        except core.FleetError as err:
            states = str(err)
        versions = {h.name: ready_version(h.ip) or "not ready" for h in apps}
        raise core.FleetError("%s: app hosts answer %s; HAProxy says %s" % (exc, versions, states)) from exc
    if changed:
        log("changed: %s installed on %s; HAProxy has them all UP" % (release.name, ", ".join(sorted(changed))))
    else:
        log("unchanged: %s already running on every app host" % release.name)
    return release
