#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: release
short_description: Install, switch to, roll back and prune releases of an application on one host
version_added: 0.1.0
description:
  - Does one host's part of a deploy in a single call (one SSH round trip), in the layout
    C(<base_dir>/<app>/releases/<release>), C(<base_dir>/<app>/shared), C(<base_dir>/<app>/current).
  - Verifies the artifact's sha256, unpacks it to C(releases/<release>) (an already complete copy of the
    same release is reused, so the artifact need not be present again), links shared directories and files.
  - "An existing C(releases/<release>) is reused only when its manifest (C(.zerodown-release.json), written at
    unpack time: the artifact's sha256 and every unpacked path's mode and sha256 or link target) names this release
    and O(checksum), and the directory still matches it. Otherwise (no manifest, a damaged one, files changed
    since) it is unpacked again from the verified artifact (action C(restage)); without the artifact the call fails
    naming what is wrong (or, with O(artifact_missing=skip), asks for it), and the live release is never unpacked
    again underneath its service: that is refused. A live release directory with no manifest at all (installed by
    another tool) is adopted as it is, and a rollback may go back to one (RV(verified) is false)."
  - With O(state=current) it stops O(service), swaps C(current) atomically (a new symlink renamed over the
    old one) and starts the service again; O(state=rollback) points C(current) back at the release that ran
    before (or O(release)); O(state=absent) removes a release (and C(current) if it pointed there, which
    is how a failed first deploy is undone).
  - With O(keep), prunes old releases keeping the newest O(keep), never the live one nor the one before it.
  - With O(unit), writes the systemd unit of O(service) in the same call (atomically, root-owned 0644), reloads
    systemd and enables the unit only when its text changed.
  - With O(ready), waits after the (re)start until the application answers ready on this host (local readiness, no
    extra round trip), and fails naming the reason if it does not within O(ready.timeout).
  - The action plugin of the same name sends O(src) from the controller in the same call when it is small (up to
    512 KiB, as O(content)), otherwise only when the host does not already have the release unpacked, and sets the
    fact C(zerodown_release_state) (see RV(ansible_facts.zerodown_release_state)).
author:
  - zerodown.deploy contributors (@zerodown)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
options:
  app:
    description: Application name; the directory under O(base_dir).
    type: str
    required: true
  release:
    description:
      - Release id (the same on every host). Required except for O(state=rollback) (defaults to the
        release that ran before the live one) and O(state=pruned).
    type: str
  state:
    description:
      - C(present) unpacks the release without switching to it (staging before the batch is drained).
      - C(current) unpacks if needed and makes it the live release, restarting O(service).
      - C(rollback) makes the previous (or the given) release live again, restarting O(service).
      - C(absent) removes the release; if it was live, stops O(service) and removes C(current).
      - C(pruned) only prunes (needs O(keep)).
    type: str
    choices: [present, current, rollback, absent, pruned]
    default: current
  artifact:
    description: Path of the release tarball on the host (gzip, bzip2, xz or plain tar).
    type: path
  src:
    description:
      - Path of the release tarball on the controller. The action plugin passes its sha256 as O(checksum) when none
        is given, so the copy is verified.
      - Up to 512 KiB it travels inside the one module call (as O(content)), one round trip, and the host uses it
        only when the release is not unpacked there yet. A bigger one is sent only when the host has neither the
        release unpacked nor the artifact (a second call).
      - Cannot be combined with O(artifact) or O(url).
    type: path
  content:
    description:
      - The release tarball itself, base64-encoded (what the action plugin sends for a small O(src)). Written to the
        module's private temporary directory and verified against O(checksum) only when the release is not
        unpacked on the host yet; ignored otherwise.
      - Needs O(checksum). Cannot be combined with O(artifact) or O(url). Never logged.
    type: str
  url:
    description:
      - http(s) URL the host downloads the release tarball from when the release is not unpacked there yet.
      - Needs O(checksum). TLS certificates are verified.
    type: str
  artifact_missing:
    description:
      - What to do when the release is not unpacked and O(artifact) is not there (or has another sha256) and no
        O(url) or O(content) gives it.
      - V(fail) is an error; V(skip) returns RV(artifact_needed) without changing anything (the action plugin uses it
        to send O(src) only when needed).
    type: str
    choices: [fail, skip]
    default: fail
  checksum:
    description: Expected sha256 of O(artifact), as C(sha256:<hex>) or bare hex. Checked before unpacking.
    type: str
  strip_components:
    description: Leading path components removed from the artifact's members (like C(tar --strip-components)).
    type: int
    default: 0
  base_dir:
    description: Directory holding one directory per application.
    type: path
    default: /opt
  shared_dirs:
    description: Directories (relative to the release) replaced by links to C(shared/<dir>), created if missing.
    type: list
    elements: str
    default: []
  shared_files:
    description: Files (relative to the release) replaced by links to C(shared/<file>), which must exist.
    type: list
    elements: str
    default: []
  owner:
    description:
      - The user the application runs as. Staging (O(state=present) or O(state=current)) makes C(shared/), the
        O(shared_dirs) and the O(shared_files) its own (those paths, not what is inside them); the release itself
        stays owned by the connecting user (root with C(become)), its files read-only to the application.
      - A POSIX user name (letters, digits, C(.), C(_), C(-)); anything else is refused before any change.
    type: str
  group:
    description: The group of O(owner) on C(shared/) and the shared paths; a POSIX group name.
    type: str
  create_owner:
    description:
      - Create O(owner) and O(group) when they do not exist, as system accounts - no login shell, home
        C(/nonexistent), primary group O(group) (or a new group named like the user) - in the same call, before
        the release is unpacked. An account that exists (locally or through NSS) is used as it is.
      - Without it, a missing O(owner) or O(group) fails the call with nothing changed.
    type: bool
    default: false
  service:
    description: systemd unit stopped before and started after C(current) moves (and started if it is not running).
    type: str
  keep:
    description: Prune old releases, keeping this many (never the live one or the one before it).
    type: int
  restart:
    description: Restart O(service) even when C(current) does not move (its unit changed when the release was staged).
    type: bool
    default: false
  unit:
    description:
      - The systemd unit of O(service), written to C(/etc/systemd/system/<service>) before the switch; it runs the
        release C(current) points at, so it does not change between releases.
    type: dict
    suboptions:
      exec_start:
        description: Command the unit runs from the C(current) directory (through C(/bin/sh -c "exec ...")).
        type: str
        required: true
      user:
        description:
          - User the service runs as, normally O(owner). V(root) is allowed, not recommended - the role
            zerodown.deploy.release runs the application as an unprivileged system user of its own.
        type: str
        default: root
      group:
        description: Group the service runs as.
        type: str
        default: root
      port:
        description: Port the application listens on, exported to it as C(ZERODOWN_APP_PORT).
        type: int
      environment:
        description: Extra environment variables (escaped for systemd).
        type: dict
        default: {}
      environment_file:
        description: An C(EnvironmentFile), optional (a missing file is ignored); empty for none.
        type: str
        default: ""
      stop_timeout:
        description: C(TimeoutStopSec) - how long the app may take to finish in-flight requests after SIGTERM.
        type: int
        default: 30
      description:
        description: The unit's C(Description) (default C(<app> (zerodown.deploy))).
        type: str
      hardening:
        description:
          - "systemd sandboxing directives merged over the defaults C(NoNewPrivileges=yes), C(ProtectSystem=strict),
            C(ProtectHome=yes), C(PrivateTmp=yes); C(ReadWritePaths) always holds C(shared/) (every shared path
            links there), so the release and the rest of the file system are read-only to the application."
          - Keys are directive names, values V(true)/V(false) (written C(yes)/C(no)), text, or a list (written
            space-separated); V(null) leaves a default directive out. C(ReadWritePaths) adds paths after C(shared/).
          - "Allowed directives: C(NoNewPrivileges), C(ProtectSystem), C(ProtectHome), C(PrivateTmp),
            C(PrivateDevices), C(PrivateUsers), C(PrivateNetwork), C(PrivateIPC), C(ProtectKernelTunables),
            C(ProtectKernelModules), C(ProtectKernelLogs), C(ProtectControlGroups), C(ProtectClock),
            C(ProtectHostname), C(ProtectProc), C(ProcSubset), C(RestrictSUIDSGID), C(RestrictRealtime),
            C(RestrictNamespaces), C(RestrictAddressFamilies), C(LockPersonality), C(MemoryDenyWriteExecute),
            C(RemoveIPC), C(ReadWritePaths), C(ReadOnlyPaths), C(InaccessiblePaths), C(CapabilityBoundingSet),
            C(AmbientCapabilities), C(SystemCallFilter), C(SystemCallArchitectures), C(UMask), C(StateDirectory),
            C(CacheDirectory), C(LogsDirectory), C(RuntimeDirectory); any other is refused (systemd would only
            warn about a misspelt one)."
          - An application under C(/home), C(/root) or C(/run/user) is refused while C(ProtectHome) hides it; set
            C(ProtectHome) to V(read-only) there.
        type: dict
        default: {}
  ready:
    description:
      - After the service (re)started with O(state=current) or O(state=rollback), probe it from this host until it
        answers ready, as M(zerodown.deploy.readiness_probe) does; the module fails if it does not.
      - With O(service), a release whose process exits at start fails within seconds, not after the whole
        O(ready.timeout) - after each failed attempt the module asks systemd whether the unit failed, stopped, waits
        for an automatic restart or was restarted since the first attempt, and then fails with the exit status (or
        signal) and the last lines of the unit's journal.
      - Uses Python's standard library only, as every module of this collection that runs on a managed host.
    type: dict
    suboptions:
      url:
        description: The readiness URL as seen from this host, e.g. C(http://127.0.0.1:8080/health).
        type: str
        required: true
      timeout:
        description: Seconds the service has to become ready.
        type: float
        default: 60
      interval:
        description: Seconds between attempts.
        type: float
        default: 0.1
      successes:
        description: Consecutive healthy answers needed.
        type: int
        default: 1
      request_timeout:
        description: Seconds one attempt may take.
        type: float
        default: 5
      status_codes:
        description: Status codes that count as ready.
        type: list
        elements: int
        default: [200]
      expect_header:
        description: Headers the ready answer must carry.
        type: dict
      version_header:
        description:
          - Response header that carries the release id (e.g. C(X-App-Version)); the answer must name the release
            that is current after the call, so the new (or, in a rollback, the old) version is the one answering.
        type: str
"""

EXAMPLES = r"""
- name: Stage the release on every host before the first batch is drained
  zerodown.deploy.release:
    app: shop
    release: "2024.06.01-1"
    artifact: /var/cache/zerodown/shop-2024.06.01-1.tar.gz
    checksum: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    owner: shop
    group: shop
    create_owner: true
    shared_dirs: [log]
    service: shop.service
    unit:
      exec_start: bin/start
      user: shop
      group: shop
      hardening:
        ReadWritePaths: [/var/spool/shop]
        AmbientCapabilities: CAP_NET_BIND_SERVICE   # listen on port 80 without root
    state: present

- name: Switch this batch (stop, swap current, start) in one call
  zerodown.deploy.release:
    app: shop
    release: "2024.06.01-1"
    service: shop.service
    state: current

- name: Roll back to the release that ran before
  zerodown.deploy.release:
    app: shop
    service: shop.service
    state: rollback

- name: Keep three releases
  zerodown.deploy.release:
    app: shop
    state: pruned
    keep: 3
"""

RETURN = r"""
previous:
  description: The release that was live before the call (null on a host that never ran the application).
  returned: always
  type: str
  sample: "2024.05.20-3"
current:
  description: The release live after the call.
  returned: always
  type: str
  sample: "2024.06.01-1"
actions:
  description: What was (or in check mode would be) done, in order.
  returned: always
  type: list
  elements: str
  sample: [unpack, switch, restart, prune]
verified:
  description:
    - False when the release made live (or kept live) has no zerodown manifest - installed by another tool and
      adopted as it is; absent otherwise.
  returned: when false
  type: bool
restage_reason:
  description: Why an existing C(releases/<release>) was not trusted and is (or would be) unpacked again.
  returned: when the release directory was not trusted
  type: str
  sample: "its files changed since it was unpacked (changed bin/start)"
restarted:
  description: Whether the service was (re)started.
  returned: always
  type: bool
pruned:
  description: Releases removed (or that would be) by pruning.
  returned: always
  type: list
  elements: str
releases:
  description: Complete releases on the host after the call, oldest first.
  returned: always
  type: list
  elements: str
seconds:
  description: How long stopping the service, swapping C(current) and starting the service took (bench figures).
  returned: when C(current) moved
  type: dict
  sample: {"stop": 0.41, "switch": 0.002, "start": 0.05}
sha256:
  description: sha256 of the installed artifact.
  returned: when O(state=present) or O(state=current)
  type: str
needs_switch:
  description: Whether the host must be switched (and so drained) to run O(release) - it runs another release, or the
    unit changed.
  returned: when O(release) is given
  type: bool
unit_changed:
  description: Whether the unit file was (or would be) rewritten.
  returned: when O(release) is given
  type: bool
artifact_needed:
  description: The release is not unpacked and the artifact is not on the host (with O(artifact_missing=skip)).
  returned: when true
  type: bool
ready:
  description:
    - The readiness outcome with O(ready) - C(ready), C(elapsed) and per-URL C(results).
    - C(broken) - why the wait ended before O(ready.timeout) (the unit's state, exit status and journal lines), when
      it did.
  returned: when O(ready) ran
  type: dict
ansible_facts:
  description: Set by the action plugin with O(state=present) or O(state=current).
  returned: when O(release) is given
  type: dict
  contains:
    zerodown_release_state:
      description:
        - This host's staging result, read by the strategy roles - C(host), C(app), C(release), C(previous) (the
          release live before, null if none), C(needs_switch) and C(unit_changed).
      type: dict
"""

from ansible_collections.zerodown.deploy.plugins.module_utils import _release  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils._module import run_module  # noqa: E402
from ansible_collections.zerodown.deploy.plugins.module_utils._unit import UNIT_SPEC  # noqa: E402

READY_SPEC = dict(
    url=dict(type="str", required=True),
    timeout=dict(type="float", default=60),
    interval=dict(type="float", default=0.1),
    successes=dict(type="int", default=1),
    request_timeout=dict(type="float", default=5),
    status_codes=dict(type="list", elements="int", default=[200]),
    expect_header=dict(type="dict"),
    version_header=dict(type="str"),
)


def main():
    argument_spec = dict(
        app=dict(type="str", required=True),
        release=dict(type="str"),
        state=dict(type="str", choices=["present", "current", "rollback", "absent", "pruned"], default="current"),
        artifact=dict(type="path"),
        checksum=dict(type="str"),
        strip_components=dict(type="int", default=0),
        base_dir=dict(type="path", default="/opt"),
        shared_dirs=dict(type="list", elements="str", default=[]),
        shared_files=dict(type="list", elements="str", default=[]),
        owner=dict(type="str"),
        group=dict(type="str"),
        create_owner=dict(type="bool", default=False),
        service=dict(type="str"),
        keep=dict(type="int"),
        src=dict(type="path"),
        url=dict(type="str"),
        content=dict(type="str", no_log=True),
        artifact_missing=dict(type="str", choices=["fail", "skip"], default="fail"),
        restart=dict(type="bool", default=False),
        unit=dict(type="dict", options=UNIT_SPEC),
        ready=dict(type="dict", options=READY_SPEC),
    )
    run_module(
        argument_spec,
        _release.run,
        from_module=lambda module: dict(run_command=module.run_command, tmpdir=lambda: module.tmpdir),
        mutually_exclusive=[("artifact", "url", "content")],
        required_by={"url": "checksum", "content": "checksum"},
        required_if=[
            ("state", "present", ["release"]),
            ("state", "current", ["release"]),
            ("state", "absent", ["release"]),
            ("state", "pruned", ["keep"]),
        ],
    )


if __name__ == "__main__":
    main()
