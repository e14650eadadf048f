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
  - With O(state=current) it stops O(service), swaps C(current) atomically (a new symlink renamed over the
    old one) and starts the service again; O(state=rollback) points C(current) back at the release that ran
    before (or O(release)); O(state=absent) removes a release (and C(current) if it pointed there, which
    is how a failed first deploy is undone).
  - With O(keep), prunes old releases keeping the newest O(keep), never the live one nor the one before it.
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
    description: User owning the unpacked release and the shared directories (default the connecting user).
    type: str
  group:
    description: Group owning the unpacked release and the shared directories.
    type: str
  service:
    description: systemd unit stopped before and started after C(current) moves (and started if it is not running).
    type: str
  keep:
    description: Prune old releases, keeping this many (never the live one or the one before it).
    type: int
"""

EXAMPLES = r"""
- name: Stage the release on every host before the first batch is drained
  zerodown.deploy.release:
    app: shop
    release: "2024.06.01-1"
    artifact: /var/cache/zerodown/shop-2024.06.01-1.tar.gz
    checksum: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    owner: shop
    shared_dirs: [log]
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
"""

import grp  # noqa: E402
import pwd  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.zerodown.deploy.plugins.module_utils._release import (  # noqa: E402
    ReleaseError,
    ReleaseTree,
    apply_release,
    parse_checksum,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
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
            service=dict(type="str"),
            keep=dict(type="int"),
        ),
        required_if=[
            ("state", "present", ["release"]),
            ("state", "current", ["release"]),
            ("state", "absent", ["release"]),
            ("state", "pruned", ["keep"]),
        ],
        supports_check_mode=True,
    )
    p = module.params
    owner = None
    try:
        checksum = parse_checksum(p["checksum"])
        if p["owner"] or p["group"]:
            try:
                uid = pwd.getpwnam(p["owner"]).pw_uid if p["owner"] else -1
            except KeyError:
                raise ValueError("owner %r does not exist on this host; create the user first" % p["owner"]) from None
            try:
                gid = grp.getgrnam(p["group"]).gr_gid if p["group"] else -1
            except KeyError:
                raise ValueError("group %r does not exist on this host; create the group first" % p["group"]) from None
            owner = (uid, gid)

        def runner(cmd):
            return module.run_command(cmd)

        tree = ReleaseTree(p["base_dir"], p["app"], runner=runner)
        result = apply_release(
            tree,
            p["state"],
            p["release"],
            artifact=p["artifact"],
            checksum=checksum,
            strip=p["strip_components"],
            owner=owner,
            shared_dirs=p["shared_dirs"],
            shared_files=p["shared_files"],
            service=p["service"],
            keep=p["keep"],
            check=module.check_mode,
        )
    except (ValueError, ReleaseError) as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(
            msg="release %s of %s: %s; check permissions under %s (become: true)"
            % (p["release"], p["app"], exc, p["base_dir"])
        )
    result["diff"] = dict(
        before={"current": result["previous"]},
        after={"current": result["current"], "pruned": result["pruned"]},
    )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
