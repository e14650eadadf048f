"""The execution environment image `make ee` builds has what the collection needs, checked inside the image.

The session builds the image once through `make ee` (scripts/ee_build.py: a cached base, podman's layer cache, so a
second run with nothing changed takes seconds), then runs the image with podman as an execution node would run a
job's commands: ansible-doc of every module, ansible and ansible-runner, the collection ansible-galaxy lists, the
Python libraries the modules import, and a module run for real in the container against this machine's PostgreSQL
and MariaDB (--network host), through psycopg/libpq and PyMySQL as installed in the image.

Not part of `make integration` / `make test` yet (the cold build takes minutes): `make ee-test`.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid

import psycopg
import pymysql
import pytest
from zerodown_testkit.support.ansible_run import REPO
from zerodown_testkit.support.podman import podman_args

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "password": "postgres"}
MY = {"host": "127.0.0.1", "port": 3306, "user": "root"}


def in_image(image: str, *cmd: str, env: dict = None) -> str:
    args = ["podman", "run", "--rm", *podman_args(), "--network", "host"]
    for key, value in (env or {}).items():
        args += ["-e", "%s=%s" % (key, value)]
    proc = subprocess.run(args + [image, *cmd], capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, "%s in %s: exit %d\n%s%s" % (cmd, image, proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def galaxy_version() -> str:
    return re.search(r"^version:\s*(\S+)", (REPO / "galaxy.yml").read_text(), re.M).group(1)


def test_the_image_has_this_checkouts_collection(ee_image):
    listed = in_image(ee_image, "ansible-galaxy", "collection", "list", "zerodown.deploy")
    assert "/usr/share/ansible/collections/ansible_collections" in listed
    assert re.search(r"^zerodown\.deploy\s+%s\s*$" % re.escape(galaxy_version()), listed, re.M), listed
    modules = sorted(p.stem for p in (REPO / "plugins/modules").glob("*.py") if not p.name.startswith("_"))
    documented = json.loads(in_image(ee_image, "ansible-doc", "--list", "--json", "zerodown.deploy"))
    assert sorted(name.split(".")[-1] for name in documented) == modules
    doc = in_image(ee_image, "ansible-doc", "zerodown.deploy.migration_check")
    assert "zerodown.deploy.migration_check" in doc and "schema_dsn" in doc


def test_ansible_and_runner_as_the_definition_asks(ee_image):
    version = in_image(ee_image, "ansible", "--version")
    core = re.search(r"^ansible \[core (\d+)\.(\d+)\.\d+", version, re.M)
    assert core and (2, 16) <= (int(core.group(1)), int(core.group(2))) < (2, 20), version
    assert re.search(r"python version = 3\.11\.", version), version
    assert "/usr/share/ansible/collections" in version
    runner = in_image(ee_image, "ansible-runner", "--version").strip()
    assert re.fullmatch(r"2\.(4|[5-9])\.\d+", runner), runner
    assert "OpenSSH" in in_image(ee_image, "sh", "-c", "ssh -V 2>&1")


def test_the_libraries_the_modules_import(ee_image):
    probe = (
        "import json, sqlparse, psycopg, pymysql\n"
        "from ansible_collections.zerodown.deploy.plugins.module_utils import _db\n"
        "from ansible_collections.zerodown.deploy.plugins.module_utils._sql import lexer\n"
        "print(json.dumps({'libpq': psycopg.pq.version(), 'impl': psycopg.pq.__impl__,"
        " 'pg': _db.HAS_PSYCOPG, 'my': _db.HAS_PYMYSQL, 'sqlparse': sqlparse.__version__}))\n"
    )
    found = json.loads(in_image(ee_image, "python3", "-c", probe, env={"PYTHONPATH": "/usr/share/ansible/collections"}))
    assert found["pg"] is True and found["my"] is True
    assert found["libpq"] >= 120000 and found["impl"] in ("python", "c", "binary")
    assert found["sqlparse"] >= "0.5"


@pytest.fixture
def host_database():
    """host_database(dialect) -> dsn of a fresh database on this machine's server with a users table."""
    made = []

    def make(dialect: str) -> str:
        name = "zd_ee_%s" % uuid.uuid4().hex[:12]
        if dialect == "postgresql":
            with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **PG) as server:
                server.execute("CREATE DATABASE %s" % name)
            with psycopg.connect(dbname=name, autocommit=True, **PG) as conn:
                conn.execute("CREATE TABLE users (id bigint PRIMARY KEY, name varchar(50))")
            made.append((dialect, name))
            return "postgresql://postgres:postgres@127.0.0.1:5432/%s" % name
        server = pymysql.connect(autocommit=True, connect_timeout=5, **MY)
        try:
            server.cursor().execute("CREATE DATABASE %s" % name)
            server.cursor().execute("CREATE TABLE %s.users (id bigint PRIMARY KEY, name varchar(50))" % name)
        finally:
            server.close()
        made.append((dialect, name))
        return "mysql://root@127.0.0.1:3306/%s" % name

    yield make
    for dialect, name in made:
        if dialect == "postgresql":
            with psycopg.connect(dbname="postgres", autocommit=True, **PG) as server:
                server.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
        else:
            server = pymysql.connect(autocommit=True, **MY)
            try:
                server.cursor().execute("DROP DATABASE IF EXISTS %s" % name)
            finally:
                server.close()


@pytest.mark.parametrize(
    "dialect, sql",
    [
        ("postgresql", "ALTER TABLE users ALTER COLUMN name TYPE varchar(40);"),
        ("mysql", "ALTER TABLE users MODIFY COLUMN name varchar(40);"),
    ],
)
def test_a_module_reads_the_live_schema_from_inside_the_image(ee_image, host_database, dialect, sql):
    """migration_check with schema_dsn: sqlparse, and the driver with its C library, as the image has them."""
    args = {"sql": sql, "dialect": dialect, "schema_dsn": host_database(dialect), "fail_on_incompatible": False}
    out = in_image(
        ee_image,
        "ansible",
        "localhost",
        "-m",
        "zerodown.deploy.migration_check",
        "-a",
        json.dumps(args),
        env={"ANSIBLE_NOCOLOR": "1"},
    )
    # the ad-hoc output (minimal callback): "localhost | SUCCESS => {result as JSON}"
    assert out.startswith("localhost | SUCCESS => "), out
    result = json.loads(out.split(" => ", 1)[1])
    assert not result.get("failed"), result.get("msg")
    assert result["schema_aware"] is True and result["changed"] is False
    assert [f["rule"] for f in result["findings"]] == ["alter_type"], result["findings"]
    assert "per the live schema (schema_dsn)" in result["findings"][0]["message"]
