"""What the modules need on the host that runs them: the standard library and what Ansible sends, nothing else.

Every module can run on a managed host (the release module's readiness probe runs on the app host itself, the
load-balancer modules on the load balancer), and minimal images ship python3 alone. The scan follows each
module's imports through the collection's module_utils, so a third-party import anywhere on that path is
found; the migration modules alone may use a database driver and the SQL lexer, and only behind an ImportError
guard, so that the error names the missing package on the migration host instead of a traceback.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[3] / "plugins"
PREFIX = "ansible_collections.zerodown.deploy."
#: module -> the third-party packages it may import (guarded), and why
ALLOWED = {
    "migration_apply": {"psycopg", "pymysql", "sqlparse"},  # runs on the migration host, which needs the driver
    "migration_check": {"psycopg", "pymysql", "sqlparse"},  # its schema_dsn reads the live schema there too
}
MODULES = sorted(p.stem for p in (PLUGINS / "modules").glob("*.py") if p.stem != "__init__")


def _file_of(name: str):
    rel = Path(*name[len(PREFIX) :].split("."))
    for candidate in (rel.with_suffix(".py"), rel / "__init__.py"):
        if (PLUGINS.parent / candidate).is_file():
            return PLUGINS.parent / candidate
    return None


def third_party_imports(module: str):
    """{top-level package: [(file, line, guarded)]} over the module and every module_utils file it reaches."""
    found = {}
    seen = set()
    todo = [PLUGINS / "modules" / ("%s.py" % module)]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text(), str(path))
        guarded_lines = {
            node.lineno
            for t in ast.walk(tree)
            if isinstance(t, ast.Try)
            and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") for h in t.handlers
            )
            for node in ast.walk(ast.Module(body=t.body, type_ignores=[]))
            if hasattr(node, "lineno")
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + ["%s.%s" % (node.module, alias.name) for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith(PREFIX + "plugins."):
                    target = _file_of(name)
                    if target is not None:
                        todo.append(target)
                    continue
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("ansible", "ansible_collections", "__future__"):
                    continue
                found.setdefault(top, []).append((path.name, node.lineno, node.lineno in guarded_lines))
    return found


def test_the_scan_sees_the_database_drivers():
    """The scan is not blind: it finds the drivers the migration modules reach through module_utils."""
    assert {"psycopg", "pymysql"} <= set(third_party_imports("migration_apply"))


@pytest.mark.parametrize("module", MODULES)
def test_a_module_needs_only_the_standard_library_and_ansible(module):
    found = third_party_imports(module)
    extra = {name: where for name, where in found.items() if name not in ALLOWED.get(module, set())}
    assert not extra, "%s imports %s on the host that runs it" % (module, extra)
    unguarded = {name: where for name, where in found.items() if not all(guarded for _module, _line, guarded in where)}
    assert not unguarded, "%s imports %s without an ImportError guard" % (module, unguarded)


def test_nothing_asks_for_requests():
    offenders = [
        "%s:%d" % (path.relative_to(PLUGINS.parent), number)
        for path in PLUGINS.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "import requests" in line or 'missing_required_lib("requests")' in line
    ]
    assert offenders == []
