"""``python -m zerodown_testkit.fleet``: bring the test fleet up and down, look at it, log into it."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional

from . import core, images, rootfs


def _log(message: str) -> None:
    # flushed: callers (tests, molecule) follow progress through a pipe
    print(message, flush=True)


def _spec(args: argparse.Namespace) -> core.FleetSpec:
    # Only `up` takes --app-hosts/--subnet; other commands use the fleet's saved spec.
    existing = core.load_spec(args.name, args.state_dir)
    requested_hosts = getattr(args, "app_hosts", None)
    app_hosts = requested_hosts if requested_hosts is not None else (existing.app_hosts if existing else 4)
    subnet = getattr(args, "subnet", None) or (existing.subnet if existing else "")
    image = getattr(args, "image", None) or (existing.app_image if existing else images.DEFAULT_IMAGE)
    return core.FleetSpec(
        name=args.name, app_hosts=app_hosts, subnet=subnet, state_dir=args.state_dir or "", app_image=image
    )


def _existing(args: argparse.Namespace) -> core.FleetSpec:
    spec = core.load_spec(args.name, args.state_dir)
    if spec is None:
        raise core.FleetError(
            "fleet %s is not up (no state under %s): run `fleet up --name %s`"
            % (args.name, args.state_dir or core.STATE_ROOT / args.name, args.name)
        )
    return spec


def main(argv: Optional[List[str]] = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--name",
        default=None,
        help="fleet name, also the prefix of everything it creates (default: $ZERODOWN_FLEET_NAME; under molecule, "
        "derived from the project directory and scenario; else %s)" % core.DEFAULT_NAME,
    )
    common.add_argument("--state-dir", default=None, help="state directory (default %s/<name>)" % core.STATE_ROOT)
    parser = argparse.ArgumentParser(prog="fleet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p_up = sub.add_parser("up", parents=[common], help="build the rootfs if needed and boot the fleet (idempotent)")
    p_up.add_argument("--app-hosts", type=int, default=None, help="number of app hosts (default 4)")
    p_up.add_argument("--subnet", default=None, help="private /24 for the fleet bridge (default derived from the name)")
    p_up.add_argument(
        "--image",
        choices=images.IMAGES,
        default=os.environ.get("ZERODOWN_FLEET_IMAGE") or None,
        help="what the app hosts boot from: full (default), or minimal - python3 and no other Python package, as "
        "minimal images ship (default: $ZERODOWN_FLEET_IMAGE, else the fleet's own, else full)",
    )
    p_up.add_argument("--boot-timeout", type=float, default=180)
    p_up.add_argument(
        "--bootstrap", metavar="RELEASE", default=None, help="also install RELEASE (e.g. v1) on the app hosts"
    )

    sub.add_parser(
        "down",
        parents=[common],
        help="remove everything the fleet created (machines, mounts, bridge, cgroups, processes)",
    )
    sub.add_parser("status", parents=[common], help="print the fleet's state as JSON")
    sub.add_parser(
        "leftovers", parents=[common], help="list what of the fleet is still on this machine; exit 1 if anything"
    )
    sub.add_parser("inventory", parents=[common], help="print the path of the Ansible inventory")

    p_ssh = sub.add_parser("ssh", parents=[common], help="ssh into a fleet host (app1, lb1, db1, ...)")
    p_ssh.add_argument("host")
    p_ssh.add_argument("cmd", nargs=argparse.REMAINDER)

    sub.add_parser("servers", parents=[common], help="print HAProxy's app servers and their status (TCP admin socket)")

    p_rel = sub.add_parser("releases", parents=[common], help="build the release tarballs of the sample app")
    p_rel.add_argument("--out", default=None, help="output directory (default <state dir>/releases)")

    p_boot = sub.add_parser(
        "bootstrap", parents=[common], help="install a release of the sample app on every app host (v1 by default)"
    )
    p_boot.add_argument("--release", default="v1")

    args = parser.parse_args(argv)
    args.name = args.name or core.default_name()
    try:
        if args.command == "up":
            spec = _spec(args)
            # Everything `up` starts (debootstrap, nspawn, ssh) lives in the fleet's
            # cgroup, so `down` ends it even when this process was killed.
            core.join_cgroup(spec.name)
            core.up(spec, boot_timeout=args.boot_timeout, log=_log)
            if args.bootstrap:
                from . import bootstrap

                bootstrap.bootstrap(spec, args.bootstrap, log=_log)
        elif args.command == "down":
            core.down(args.name, args.state_dir, log=_log)
        elif args.command == "status":
            print(json.dumps(core.status(args.name, args.state_dir), indent=2))
        elif args.command == "leftovers":
            found = core.leftovers(args.name, args.state_dir)
            print("\n".join(found) if found else "nothing left of fleet %s" % args.name)
            return 1 if found else 0
        elif args.command == "inventory":
            print(_existing(args).inventory)
        elif args.command == "ssh":
            return core.main_ssh(_existing(args), args.host, args.cmd)
        elif args.command == "releases":
            from . import releases

            out = args.out or str(_spec(args).state / "releases")
            for rel in releases.build_all(out):
                print("%s %s %s" % (rel.name, rel.sha256, rel.path))
        elif args.command == "servers":
            from . import bootstrap

            print(json.dumps(bootstrap.server_states(_existing(args)), indent=2, sort_keys=True))
        elif args.command == "bootstrap":
            from . import bootstrap

            bootstrap.bootstrap(_existing(args), args.release, log=_log)
    except (core.FleetError, rootfs.RootfsError) as exc:
        print("fleet: %s" % exc, file=sys.stderr)
        return 1
    return 0
