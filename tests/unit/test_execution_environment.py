"""execution-environment.yml builds a context ansible-builder accepts, with every package the plugins import."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
# import name -> the requirement that provides it
PROVIDED_BY = {
    "sqlparse": "sqlparse",
    "psycopg": "psycopg",
    "pymysql": "PyMySQL",
}


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].split("!")[0].strip())
    return names


def third_party_imports() -> set[str]:
    """Top-level modules imported by plugins/ that are neither the standard library nor Ansible."""
    found = set()
    for path in (REPO / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("ansible", "ansible_collections", "__future__"):
                    found.add(top)
    return found


def test_the_ee_requirements_cover_every_package_the_plugins_import():
    needed = third_party_imports()
    assert needed, "the import scan found nothing: it is broken"
    unknown = needed - set(PROVIDED_BY)
    assert not unknown, f"plugins import {sorted(unknown)}: add them to requirements/ee-python.txt and PROVIDED_BY"
    listed = requirement_names(REPO / "requirements" / "ee-python.txt")
    assert {PROVIDED_BY[name] for name in needed} <= listed, listed


def test_the_collection_names_its_ee_requirements():
    """ansible-builder reads meta/execution-environment.yml of every collection it installs into an image."""
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    definition = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    assert meta["dependencies"]["python"] == definition["dependencies"]["python"] == "requirements/ee-python.txt"
    assert meta["dependencies"]["system"] == definition["dependencies"]["system"] == "bindep.txt"


def test_ansible_builder_creates_the_build_context(tmp_path):
    context = tmp_path / "context"
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-builder"),
            "create",
            "--file",
            str(REPO / "execution-environment.yml"),
            "--context",
            str(context),
            "--output-filename",
            "Containerfile",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    build = context / "_build"
    assert requirement_names(build / "requirements.txt") == requirement_names(REPO / "requirements" / "ee-python.txt")
    assert (build / "bindep.txt").read_text() == (REPO / "bindep.txt").read_text()
    # the collection as built from this checkout: make ee (scripts/ee_build.py) writes the tarball where
    # additional_build_files takes it into the context, and the galaxy stage installs that file
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())
    assert galaxy["collections"] == [{"name": "collections/zerodown-deploy.tar.gz", "type": "file"}]
    definition = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    assert definition["additional_build_files"] == [{"src": "build/ee/zerodown-deploy.tar.gz", "dest": "collections"}]
    spec = importlib.util.spec_from_file_location("ee_build", REPO / "scripts" / "ee_build.py")
    ee_build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ee_build)
    assert ee_build.TARBALL == REPO / "build/ee/zerodown-deploy.tar.gz"
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile
    assert "introspect.py introspect --user-pip=requirements.txt --user-bindep=bindep.txt" in containerfile
