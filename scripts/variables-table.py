"""Write (or, with --check, compare) the README's deploy-variables table from the argument specs.

Sources: playbooks/vars/deploy_variables.yml (what the playbooks read themselves) and the main entry points of the
roles deploy.yml runs (the strategies, release, migrate). One row per variable, the first source naming it wins.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
START, END = "<!-- variables:start (scripts/variables-table.py) -->", "<!-- variables:end -->"
SOURCES = [
    ("playbooks", REPO / "playbooks" / "vars" / "deploy_variables.yml", ("playbook_variables",)),
    ("rolling", REPO / "roles" / "rolling" / "meta" / "argument_specs.yml", ("argument_specs", "main")),
    ("blue_green", REPO / "roles" / "blue_green" / "meta" / "argument_specs.yml", ("argument_specs", "main")),
    ("canary", REPO / "roles" / "canary" / "meta" / "argument_specs.yml", ("argument_specs", "main")),
    ("release", REPO / "roles" / "release" / "meta" / "argument_specs.yml", ("argument_specs", "main")),
    ("migrate", REPO / "roles" / "migrate" / "meta" / "argument_specs.yml", ("argument_specs", "main")),
]
MARKUP = re.compile(r"\b[COVM]\(([^)]*)\)")


def text(value) -> str:
    lines = value if isinstance(value, list) else [value]
    first = MARKUP.sub(lambda m: "`%s`" % m.group(1), str(lines[0]))
    return first.replace("|", "\\|")


def default_of(spec) -> str:
    if spec.get("required"):
        return "**required**"
    value = spec.get("default")
    if value in ("", None):
        return '`""`' if value == "" else ""
    if not isinstance(value, str):
        value = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
    return "`%s`" % value.replace("|", "\\|")


def rows():
    seen = {}
    for where, path, keys in SOURCES:
        node = yaml.safe_load(path.read_text())
        for key in keys:
            node = node[key]
        for name, spec in sorted(node["options"].items()):
            if name in seen:
                seen[name][1].append(where)
                continue
            seen[name] = (spec, [where])
    for name in sorted(seen):
        spec, where = seen[name]
        yield "| `%s` | %s | %s | %s |" % (name, default_of(spec), ", ".join(where), text(spec["description"]))


def table() -> str:
    return "\n".join([START, "", "| variable | default | read by | what |", "|---|---|---|---|", *rows(), "", END])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md differs from the specs")
    args = parser.parse_args()
    readme = REPO / "README.md"
    current = readme.read_text()
    if START not in current or END not in current:
        print("README.md has no %s ... %s section" % (START, END), file=sys.stderr)
        return 1
    before, rest = current.split(START, 1)
    after = rest.split(END, 1)[1]
    wanted = before + table() + after
    if args.check:
        if wanted != current:
            print("README.md's variables table is out of date: run scripts/variables-table.py", file=sys.stderr)
            return 1
        return 0
    readme.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
