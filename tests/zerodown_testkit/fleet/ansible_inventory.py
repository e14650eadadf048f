#!/usr/bin/env python
"""Ansible dynamic inventory of a test fleet (script format), for molecule.

molecule's inventory directory links ``hosts`` to this script, so
ansible-playbook and the testinfra verifier both see the fleet that
``fleet up`` made, and an empty inventory before ``create`` or after
``destroy``. The fleet is ``$ZERODOWN_FLEET_NAME`` or, under molecule, the
name derived from the project directory and scenario (see fleet.core).
"""

import json
import sys

# Absolute, so that it works when Ansible runs this file as a script too: the
# project venv's Python imports zerodown_testkit from anywhere (make venv).
from zerodown_testkit.fleet import core


def inventory() -> dict:
    out = {"_meta": {"hostvars": {}}, "all": {"children": ["app", "lb", "db", "ungrouped"]}}
    for group in ("app", "lb", "db"):
        out[group] = {"hosts": []}
    spec = core.load_spec(core.default_name())
    if spec is None or not spec.inventory.exists():
        return out
    static = json.loads(spec.inventory.read_text().split("\n", 1)[1])["all"]
    out["all"]["vars"] = static["vars"]
    for group, data in static["children"].items():
        out[group] = {"hosts": sorted(data["hosts"])}
        for host, hostvars in data["hosts"].items():
            out["_meta"]["hostvars"][host] = hostvars
    return out


if __name__ == "__main__":
    if "--host" in sys.argv:
        print("{}")
    else:
        print(json.dumps(inventory(), indent=2))
