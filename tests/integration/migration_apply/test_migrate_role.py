"""Role zerodown.deploy.migrate and playbooks/contract.yml through real ansible-playbook on localhost."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from zerodown_testkit.support.ansible_run import REPO, ansible_env
from zerodown_testkit.support.lbharness import Backends, HAProxyInstance

from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import HAProxyRuntime

USERS = "CREATE TABLE users (id integer primary key, name varchar(100) not null);\n"
EMAIL = "ALTER TABLE users ADD COLUMN email varchar(200);\n"
DROP_NAME = "ALTER TABLE users DROP COLUMN name;\n"
PLAYBOOK = """---
- name: Migrate
  hosts: localhost
  gather_facts: false
  roles:
    - role: zerodown.deploy.migrate
  post_tasks:
    - name: Show the result
      ansible.builtin.debug:
        msg: "RESULT={{ zerodown_migration_result | to_json }}"
"""


def playbook(
    tmp_path: Path,
    variables: dict,
    text: str = PLAYBOOK,
    inventory: str = "localhost ansible_connection=local\n",
    check: bool = False,
):
    """ansible-playbook on ``text`` with ``variables`` (-e @vars.json), in check mode with ``check``."""
    (tmp_path / "play.yml").write_text(text)
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    (tmp_path / "inventory").write_text(inventory)
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(tmp_path / "inventory"),
        str(tmp_path / "play.yml"),
        "-e",
        "@%s" % (tmp_path / "vars.json"),
    ] + (["--check"] if check else [])
    env = ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_DISPLAY_OK_HOSTS="true")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False, cwd=str(tmp_path))
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc


def result_of(proc) -> dict:
    for line in proc.stdout.splitlines():
        if '"msg": "RESULT=' in line:
            return json.loads(json.loads("{" + line.strip() + "}")["msg"][len("RESULT=") :])
    raise AssertionError("no RESULT in output:\n" + proc.stdout)


def recap_changed(proc) -> int:
    line = next(x for x in proc.stdout.splitlines() if x.startswith("localhost") and "changed=" in x)
    return int(line.split("changed=")[1].split()[0])


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_compatible_migrations_are_applied_incompatible_ones_blocked(tmp_path, make_db, migrations, dialect):
    db = make_db(dialect)
    migrations(
        {"0001_users.sql": USERS, "0002_email.sql": EMAIL, "0003_drop.sql": "-- zerodown:contract\n" + DROP_NAME}
    )
    variables = {
        "zerodown_db_dialect": dialect,
        "zerodown_db_dsn": db.args["dsn"],
        "zerodown_db_password": db.args.get("password", ""),
        "zerodown_release": "r1",
    }
    # The controller-side copy for PostgreSQL, the in-place directory for SQLite: both paths are exercised.
    if dialect == "postgresql":
        variables["zerodown_migrations_src"] = str(migrations.dir)
    else:
        variables["zerodown_migrations_dir"] = str(migrations.dir)

    scratch_before = set(Path("/tmp").glob("zerodown-pending-*")) | set(Path("/tmp").glob("zerodown-migrations-*"))
    proc = playbook(tmp_path, variables)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = result_of(proc)
    assert result["applied"] == ["0001_users.sql", "0002_email.sql"]
    assert result["skipped_contract"] == ["0003_drop.sql"]
    assert db.columns("users") == ["id", "name", "email"]
    assert [r[0] for r in db.tracking()] == ["0001_users.sql", "0002_email.sql"]

    again = playbook(tmp_path, variables)
    assert again.returncode == 0, again.stdout
    assert result_of(again)["applied"] == []
    assert recap_changed(again) == 0

    migrations(
        {"0004_drop_email.sql": "ALTER TABLE users DROP COLUMN email;\n", "0005_ok.sql": "CREATE TABLE t (x int);\n"}
    )
    blocked = playbook(tmp_path, variables)
    assert blocked.returncode != 0
    assert "Release blocked" in blocked.stdout and "0004_drop_email.sql line 1: drop_column" in blocked.stdout
    assert "fix:" in blocked.stdout
    assert "email" in db.columns("users"), "nothing may be applied when the check blocks"
    assert "t" not in db.tables()
    assert [r[0] for r in db.tracking()] == ["0001_users.sql", "0002_email.sql"]
    left = (
        set(Path("/tmp").glob("zerodown-pending-*")) | set(Path("/tmp").glob("zerodown-migrations-*")) - scratch_before
    )
    assert not left, "the role must remove its temporary directories: %s" % left


def _sqlite_with_users(make_db, migrations):
    """An SQLite database and a migrations directory holding 0001_users.sql, and the role's variables for them."""
    db = make_db("sqlite")
    migrations({"0001_users.sql": USERS})
    return db, {
        "zerodown_db_dialect": "sqlite",
        "zerodown_db_dsn": db.path,
        "zerodown_migrations_dir": str(migrations.dir),
    }


REBUILD_KEEPING_ALL = (
    "CREATE TABLE users_new (id integer primary key, name varchar(100) not null, nick text);\n"
    "INSERT INTO users_new (id, name) SELECT id, name FROM users;\n"
    "DROP TABLE users;\nALTER TABLE users_new RENAME TO users;\n"
)


def test_the_history_settles_what_the_pending_file_alone_cannot(tmp_path, make_db, migrations):
    """An SQLite rebuild is undetermined alone (fails closed); the applied 0001 shows it drops nothing."""
    db, variables = _sqlite_with_users(make_db, migrations)
    assert playbook(tmp_path, variables).returncode == 0
    migrations({"0002_rebuild.sql": REBUILD_KEEPING_ALL})
    blind = playbook(tmp_path, dict(variables, zerodown_migration_history=False))
    assert blind.returncode != 0
    assert "0002_rebuild.sql line 4: undetermined" in blind.stdout, blind.stdout
    assert "nick" not in db.columns("users"), "nothing may be applied when the check blocks"
    proc = playbook(tmp_path, variables)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result_of(proc)["applied"] == ["0002_rebuild.sql"]
    assert db.columns("users") == ["id", "name", "nick"]


def test_check_mode_run_of_the_role_changes_nothing(tmp_path, make_db, migrations):
    db, variables = _sqlite_with_users(make_db, migrations)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    proc = playbook(tmp_path, variables)
    assert proc.returncode == 0
    migrations({"0002_email.sql": EMAIL})
    check = playbook(tmp_path, variables, check=True)
    assert check.returncode == 0, check.stdout
    assert result_of(check)["pending"] == ["0002_email.sql"]
    assert "email" not in db.columns("users")


def test_application_migration_command_is_gated_by_the_rendered_sql(tmp_path, make_db):
    db = make_db("sqlite")
    marker = tmp_path / "command-ran"
    render = tmp_path / "render.sql"
    variables = {
        "zerodown_db_dialect": "sqlite",
        "zerodown_migrate_command": "%s -c \"open('%s', 'w').write('ran')\"" % (sys.executable, marker),
        "zerodown_migrate_render_command": "cat %s" % render,
        "zerodown_migrate_chdir": str(tmp_path),
    }
    render.write_text("ALTER TABLE users RENAME COLUMN name TO full_name;\n")
    blocked = playbook(tmp_path, variables)
    assert blocked.returncode != 0
    assert "rename_column" in blocked.stdout and "Release blocked" in blocked.stdout
    assert not marker.exists(), "the migration command must not run when its SQL is incompatible"

    render.write_text(USERS + EMAIL)
    ok = playbook(tmp_path, variables)
    assert ok.returncode == 0, ok.stdout
    assert marker.read_text() == "ran"

    marker.unlink()
    unchecked = playbook(tmp_path, dict(variables, zerodown_migrate_render_command=""))
    assert unchecked.returncode != 0 and "zerodown_migrate_allow_unchecked" in unchecked.stdout
    assert not marker.exists()
    assert db.tables() == set()


CONTRACT_INVENTORY = """[app]
web1 ansible_connection=local zerodown_base_dir={base}/web1
web2 ansible_connection=local zerodown_base_dir={base}/web2
[lb]
lock1 ansible_connection=local
"""


def test_contract_playbook_refuses_while_a_host_runs_an_older_release(tmp_path, make_db, migrations):
    db = make_db("postgresql")
    migrations({"0001_users.sql": USERS, "0002_drop_name.contract.sql": DROP_NAME})
    variables = {
        "zerodown_app_name": "shop",
        "zerodown_release": "r2",
        "zerodown_db_dialect": "postgresql",
        "zerodown_db_dsn": db.args["dsn"],
        "zerodown_db_password": db.args["password"],
        "zerodown_migrations_dir": str(migrations.dir),
        "zerodown_migrate_host": "web1",
        "zerodown_state_dir": str(tmp_path / "state"),
    }
    deploy_vars = {k: v for k, v in variables.items() if k not in ("zerodown_migrate_host", "zerodown_state_dir")}
    deploy = playbook(tmp_path, deploy_vars, inventory="localhost ansible_connection=local\n")
    assert deploy.returncode == 0, deploy.stdout
    for host, release in (("web1", "r2"), ("web2", "r1")):
        (tmp_path / host / "shop" / "releases" / release).mkdir(parents=True)
        (tmp_path / host / "shop" / "current").symlink_to("releases/%s" % release)
    contract = (REPO / "playbooks" / "contract.yml").read_text()
    inventory = CONTRACT_INVENTORY.format(base=tmp_path)

    refused = playbook(tmp_path, variables, text=contract, inventory=inventory)
    assert refused.returncode != 0
    assert "web2: runs r1" in refused.stdout and "web1" not in refused.stdout.split("do not run r2:")[1].split(".")[0]
    assert "name" in db.columns("users")

    (tmp_path / "web2" / "shop" / "releases" / "r2").mkdir()
    (tmp_path / "web2" / "shop" / "current").unlink()
    (tmp_path / "web2" / "shop" / "current").symlink_to("releases/r2")
    done = playbook(tmp_path, variables, text=contract, inventory=inventory)
    assert done.returncode == 0, done.stdout
    assert db.columns("users") == ["id"]
    assert [r[0] for r in db.tracking()] == ["0001_users.sql", "0002_drop_name.contract.sql"]
    # the deploy lock was taken and given back both times
    assert not (tmp_path / "state" / "shop" / "deploy.lock").exists()
    audit = [json.loads(line) for line in (tmp_path / "state" / "shop" / "audit.log").read_text().splitlines()]
    assert [e["event"] for e in audit if e["event"] in ("acquire", "release")] == ["acquire", "release"] * 2


DEPLOY_INVENTORY = """[app]
web1 ansible_connection=local zerodown_base_dir={base}/web1 ansible_python_interpreter={base}/systemd-host-python
web2 ansible_connection=local zerodown_base_dir={base}/web2 ansible_python_interpreter={base}/systemd-host-python
[lb]
lb1 ansible_connection=local
"""

# The app hosts stand in for hosts whose init is systemd (what the preflight's host_requirements looks for, before
# the migration check these tests are about): their modules run in a mount namespace of their own where
# /run/systemd/system exists; everything else is this machine.
SYSTEMD_HOST_PYTHON = """#!/bin/sh
exec unshare --mount --propagation private sh -c \
  'mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && exec "$0" "$@"' {python} "$@"
"""


@pytest.fixture
def deploy_setup(tmp_path, make_db, migrations):
    """The deploy playbook on localhost: web1, web2 (app), lb1 (lb, lock, ledger) behind a real HAProxy; an
    SQLite database holding 0001_users.sql; (deploy variables, inventory, db)."""
    haproxy_dir = tmp_path / "haproxy"
    backends = Backends(["web1", "web2"])
    haproxy = HAProxyInstance(haproxy_dir, backends)
    db = make_db("sqlite")
    migrations({"0001_users.sql": USERS})
    artifact = tmp_path / "shop-r2.tar.gz"
    with tarfile.open(artifact, "w:gz") as tar:
        info = tarfile.TarInfo("app.py")
        tar.addfile(info)
    variables = {
        "zerodown_app_name": "shop",
        "zerodown_release": "r2",
        "zerodown_artifact": str(artifact),
        "zerodown_exec_start": "/bin/true",
        "zerodown_state_dir": str(tmp_path / "state"),
        "zerodown_lb": {"provider": "haproxy", "socket": haproxy.socket, "backend": "app"},
        "zerodown_db_dialect": "sqlite",
        "zerodown_db_dsn": db.path,
        "zerodown_migrations_src": str(migrations.dir),
    }
    assert playbook(tmp_path, dict(variables, zerodown_release="r1")).returncode == 0  # 0001 applied before
    interpreter = tmp_path / "systemd-host-python"
    interpreter.write_text(SYSTEMD_HOST_PYTHON.format(python=sys.executable))
    interpreter.chmod(0o755)
    try:
        yield variables, DEPLOY_INVENTORY.format(base=tmp_path), db
    finally:
        haproxy.stop()
        backends.stop()


def lb_states(socket_path: str) -> dict:
    servers = HAProxyRuntime(socket_path).servers("app")
    return {name: (info["state"], info["weight"]) for (_backend, name), info in servers.items()}


def refused_at_preflight(tmp_path, variables, inventory) -> str:
    """Run the deploy playbook; assert it was refused at preflight with nothing changed; its output."""
    servers_before = lb_states(variables["zerodown_lb"]["socket"])
    text = "---\n- name: Deploy\n  ansible.builtin.import_playbook: %s\n" % (REPO / "playbooks" / "deploy.yml")
    deploy = playbook(tmp_path, variables, text=text, inventory=inventory)
    (tmp_path / "deploy.out").write_text(deploy.stdout)  # kept with the test's directory, to read on a failure
    assert deploy.returncode != 0, deploy.stdout
    assert "preflight failed, nothing was changed: " in deploy.stdout, deploy.stdout
    for host in ("web1", "web2"):
        assert not (tmp_path / host).exists(), "nothing may be staged on %s" % host
    assert not (tmp_path / "state" / "shop" / "deploy.lock").exists(), "the lock is given back"
    audit = [json.loads(line) for line in (tmp_path / "state" / "shop" / "audit.log").read_text().splitlines()]
    assert [e["event"] for e in audit if e["event"] in ("acquire", "release")] == ["acquire", "release"]
    assert lb_states(variables["zerodown_lb"]["socket"]) == servers_before
    return deploy.stdout


def test_deploy_with_an_incompatible_migration_is_refused_at_preflight(tmp_path, deploy_setup, migrations):
    """Fault case 1: blocked before any change: nothing applied, nothing staged, the lock released."""
    variables, inventory, db = deploy_setup
    migrations({"0002_drop_name.sql": DROP_NAME, "0003_t.sql": "CREATE TABLE t (x int);\n"})
    out = refused_at_preflight(tmp_path, variables, inventory)
    assert "preflight failed, nothing was changed: Release blocked" in out
    assert "0002_drop_name.sql line 1: drop_column" in out
    assert db.columns("users") == ["id", "name"] and "t" not in db.tables()
    assert [r[0] for r in db.tracking()] == ["0001_users.sql"]


def test_deploy_with_an_unreachable_database_is_refused_at_preflight(tmp_path, deploy_setup):
    """Fault case 2: the database does not answer at the check: refused naming host:port, nothing changed."""
    variables, inventory, _db = deploy_setup
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the probe is
    unreachable = dict(
        variables,
        zerodown_db_dialect="postgresql",
        zerodown_db_dsn="postgresql://shop@127.0.0.1:%d/shop" % port,
        zerodown_db_password="Sup3r-S3cret-pw",
        zerodown_migration_connect_timeout=2,
    )
    out = refused_at_preflight(tmp_path, unreachable, inventory)
    # (the DSN itself is no_log, so Ansible masks the description where it equals the DSN; host:port stays)
    assert "preflight failed, nothing was changed: cannot connect to " in out
    assert "cannot reach 127.0.0.1:%d: check host and port" % port in out
    assert "Sup3r-S3cret-pw" not in out
    # every artifact of the run: its output above, and each file it left (the ledger with the plan, the audit log)
    written = [path for path in (tmp_path / "state").rglob("*") if path.is_file()]
    assert any(path.name == "ledger.json" for path in written), written
    for path in written:
        assert "Sup3r-S3cret-pw" not in path.read_text(errors="replace"), path


def test_the_role_writes_the_rewrites_on_request_and_never_applies_one(tmp_path, make_db, migrations):
    """zerodown_migration_write_rewrites: the blocked file's rewrite lands next to it (not in check mode, not twice),
    the release stays blocked, and the .safe.sql files are never applied; the failure shows the rewrite."""
    db, variables = _sqlite_with_users(make_db, migrations)
    assert playbook(tmp_path, variables).returncode == 0
    migrations({"0002_drop_name.sql": DROP_NAME})
    directory = Path(migrations.dir)

    plain = playbook(tmp_path, variables)
    assert plain.returncode != 0
    assert "safe rewrite (" in plain.stdout and "-- save as 0002_drop_name.contract.safe.sql" in plain.stdout
    assert not list(directory.glob("*.safe.sql")), "written only on request"

    writing = dict(variables, zerodown_migration_write_rewrites=True)
    check = playbook(tmp_path, writing, check=True)
    assert check.returncode != 0 and "Release blocked" in check.stdout, check.stdout
    assert not list(directory.glob("*.safe.sql")), "check mode writes nothing"

    first = playbook(tmp_path, writing)
    assert first.returncode != 0 and "Release blocked" in first.stdout
    assert sorted(p.name for p in directory.glob("*.safe.sql")) == [
        "0002_drop_name.contract.safe.sql",
        "0002_drop_name.safe.sql",
    ]
    assert (directory / "0002_drop_name.contract.safe.sql").read_text() == "-- zerodown:contract\n" + DROP_NAME
    assert "changed: [localhost] => (item=%s" % (directory / "0002_drop_name.safe.sql") in first.stdout

    second = playbook(tmp_path, writing)
    assert second.returncode != 0
    assert "changed: [localhost] => (item=" not in second.stdout, "an unchanged rewrite is not written again"
    assert "ok: [localhost] => (item=%s" % (directory / "0002_drop_name.safe.sql") in second.stdout
    assert db.columns("users") == ["id", "name"], "no rewrite and no blocked file is applied"
    assert [r[0] for r in db.tracking()] == ["0001_users.sql"]
