"""What a deploy needs on each host (from the plan), what one host lacks, and the verdict over every host."""

from __future__ import annotations

import errno
import io
import os
import socket
import tarfile

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils import _requirements as req
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils._plan import build_plan
from ansible_collections.zerodown.deploy.plugins.module_utils._requirements import (
    HostProbe,
    host_needs,
    missing,
    verdict,
)

HAPROXY = {"provider": "haproxy", "socket": ["/run/haproxy/admin.sock"]}
GIB = 1024**3


class FakeProbe:
    """A host as the test describes it: every check answers from these attributes."""

    def __init__(self, **kw):
        self.version = kw.get("version", (3, 11, 2))
        self.systemd_problem = kw.get("systemd")
        self.sockets = kw.get("sockets", {})
        self.paths = kw.get("paths", {})
        self.drivers = kw.get("drivers", {})
        self.free = kw.get("free", {})  # path -> (existing dir, free bytes, device)
        self.present = set(kw.get("present", ()))

    def python_version(self):
        return self.version

    def systemd(self):
        return self.systemd_problem

    def socket(self, address):
        return self.sockets.get(address)

    def path(self, path, writable):
        return self.paths.get((path, writable))

    def driver(self, dialect):
        return self.drivers.get(dialect)

    def free_bytes(self, path):
        return self.free[path]

    def exists(self, path):
        return path in self.present


def needs(**kw):
    args = dict(
        app_hosts=["app1", "app2"],
        lb_hosts=["lb1"],
        lb=HAPROXY,
        base_dir="/opt",
        app="shop",
        release="v2",
        artifact_bytes=10 * 1024,
        unpacked_bytes=40 * 1024,
        migrate_host=None,
        dialect="postgresql",
    )
    args.update(kw)
    return host_needs(**args)


# -- what each host needs --------------------------------------------------------------------------------------


def test_app_hosts_need_systemd_and_disk_lbs_their_socket():
    out = needs()
    assert out["app1"] == {
        "python": "3.8",
        "systemd": True,
        "disk": {"path": "/opt/shop", "release": "v2", "unpacked_bytes": 40 * 1024, "artifact_bytes": 10 * 1024},
    }
    assert out["lb1"] == {"python": "3.8", "sockets": ["/run/haproxy/admin.sock"]}
    assert "db_driver" not in str(out)


def test_nginx_load_balancers_need_their_files():
    lb = {"provider": "nginx", "nginx": {"conf": "/etc/nginx/nginx.conf", "servers_file": "/etc/nginx/app.conf"}}
    out = needs(lb=lb)
    assert out["lb1"]["nginx"] == {"conf": "/etc/nginx/nginx.conf", "servers_file": "/etc/nginx/app.conf"}
    assert "sockets" not in out["lb1"]


def test_only_the_migration_host_needs_the_driver():
    out = needs(migrate_host="db1")
    assert out["db1"] == {"python": "3.8", "db_driver": "postgresql"}
    assert all("db_driver" not in out[h] for h in ("app1", "app2", "lb1"))
    on_an_app_host = needs(migrate_host="app1", dialect="mysql")
    assert on_an_app_host["app1"]["db_driver"] == "mysql" and on_an_app_host["app1"]["systemd"]
    assert "db1" not in needs(migrate_host="db1", dialect="sqlite")  # sqlite3 is the standard library


def test_an_artifact_of_unknown_size_needs_no_disk_check():
    assert "disk" not in needs(artifact_bytes=None, unpacked_bytes=None)["app1"]


def plan_of(variables):
    identity = {"run_id": "r", "owner": "o", "controller": "c"}
    return build_plan(variables, "deploy", ["app1"], ["lb1"], ["db1"], {}, identity, lambda path: "0" * 64)


def test_the_plan_carries_the_requirements(tmp_path):
    artifact = tmp_path / "shop-v2.tar.gz"
    payload = b"x" * 5000
    with tarfile.open(artifact, "w:gz") as tar:
        info = tarfile.TarInfo("bin/start")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    variables = {
        "zerodown_app_name": "shop",
        "zerodown_release": "v2",
        "zerodown_artifact": str(artifact),
        "zerodown_exec_start": "bin/start",
        "zerodown_lb": {"backend": "app"},
        "zerodown_migrations_src": str(tmp_path),
        "zerodown_base_dir": "/srv",
    }
    assert plan_of(variables)["requirements"]["app1"]["disk"] == {
        "path": "/srv/shop",
        "release": "v2",
        "unpacked_bytes": 5000,
        "artifact_bytes": os.path.getsize(artifact),
    }
    assert plan_of(variables)["requirements"]["db1"] == {"python": "3.8", "db_driver": "postgresql"}
    variables["zerodown_migrate_host"] = "localhost"
    plan = plan_of(variables)
    assert "db1" not in plan["requirements"] and plan["requirements"]["localhost"]["db_driver"] == "postgresql"


# -- what one host lacks ---------------------------------------------------------------------------------------


def test_a_host_with_everything_lacks_nothing():
    probe = FakeProbe(free={"/opt/shop": ("/opt", GIB, 1), "/tmp/x": ("/tmp", GIB, 2)})
    for host, wanted in needs().items():
        lacks, found = missing(wanted, probe, tmpdir="/tmp/x")
        assert lacks == [], host
        assert found["python"] == "3.11.2"


def test_every_lack_of_a_host_is_listed_with_its_fix():
    probe = FakeProbe(
        version=(3, 6, 8),
        systemd="systemd is not the init system (no /run/systemd/system)",
        drivers={"postgresql": "No module named 'psycopg'"},
        free={"/opt/shop": ("/opt", 30 * 1024, 1), "/tmp/x": ("/opt", 30 * 1024, 1)},
    )
    wanted = needs(migrate_host="app1")["app1"]
    lacks, found = missing(wanted, probe, tmpdir="/tmp/x")
    assert len(lacks) == 4, lacks
    assert lacks[0].startswith("Python 3.8 or newer (this host runs 3.6.8")
    assert lacks[1] == "systemd to run the app's unit: systemd is not the init system (no /run/systemd/system)"
    assert "postgresql driver to apply the migrations (No module named 'psycopg')" in lacks[2]
    assert "apt-get install python3-psycopg" in lacks[2]
    # the artifact and what it unpacks to share the filesystem: 50 KiB needed, 30 KiB free
    assert lacks[3].startswith("50.0 KiB free in /opt for release v2 (30.0 KiB free there)")
    assert found["systemd"] is False and found["db_driver"] is False


def test_disk_on_two_filesystems_is_judged_on_each():
    probe = FakeProbe(free={"/opt/shop": ("/opt", 45 * 1024, 1), "/tmp/x": ("/tmp", 5 * 1024, 2)})
    lacks, _unused = missing(needs()["app1"], probe, tmpdir="/tmp/x")
    assert lacks == ["10.0 KiB free in /tmp for the artifact (5.0 KiB free there)"]


def test_a_release_already_unpacked_needs_no_space():
    probe = FakeProbe(present={"/opt/shop/releases/v2"}, free={})
    lacks, found = missing(needs()["app1"], probe, tmpdir="/tmp/x")
    assert lacks == [] and found["disk"] == "release v2 is already unpacked"


def test_load_balancer_sockets_and_nginx_files():
    probe = FakeProbe(sockets={"/run/haproxy/admin.sock": "/run/haproxy/admin.sock: permission denied for uid 1000"})
    lacks, found = missing(needs()["lb1"], probe)
    assert lacks == ["the HAProxy runtime API: /run/haproxy/admin.sock: permission denied for uid 1000"]
    assert found["sockets"] == {"/run/haproxy/admin.sock": False}
    lb = {"provider": "nginx", "nginx": {"conf": "/etc/nginx/nginx.conf", "servers_file": "/etc/nginx/app.conf"}}
    probe = FakeProbe(paths={("/etc/nginx/app.conf", True): "/etc/nginx/app.conf is not writable by uid 1000"})
    lacks, _unused = missing(needs(lb=lb)["lb1"], probe)
    assert lacks == ["nginx's servers_file: /etc/nginx/app.conf is not writable by uid 1000"]


# -- the real probe on this machine, for what a unit test can set up ------------------------------------------


def test_the_probe_on_real_sockets_and_paths(tmp_path):
    probe = HostProbe()
    path = str(tmp_path / "admin.sock")
    assert probe.socket(path).startswith("no socket at %s" % path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    try:
        assert probe.socket(path) is None
        assert probe.socket("unix:" + path) is None
    finally:
        server.close()
    plain = tmp_path / "plain"
    plain.write_text("")
    assert probe.socket(str(plain)) == "%s is not a socket" % plain
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    assert "refused" in probe.socket("127.0.0.1:%d" % port).lower()
    assert probe.path(str(tmp_path / "nope"), False) == "%s does not exist" % (tmp_path / "nope")
    assert probe.path(str(plain), True) is None
    where, free, device = probe.free_bytes(str(tmp_path / "not" / "yet" / "made"))
    assert where == str(tmp_path) and free > 0 and device == os.stat(tmp_path).st_dev
    assert probe.driver("postgresql") is None  # the test environment has psycopg


def test_permission_denied_on_a_socket_says_how_to_fix_it(monkeypatch, tmp_path):
    path = tmp_path / "admin.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))

    class Denied(socket.socket):
        def connect(self, address):
            raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(req.socket, "socket", Denied)
    try:
        problem = HostProbe().socket(str(path))
    finally:
        server.close()
    assert problem.startswith("%s: permission denied for uid %d (mode 0o" % (path, os.geteuid()))
    assert "become: true" in problem


# -- the verdict over every host -------------------------------------------------------------------------------


def test_the_verdict_names_every_host_and_what_it_lacks():
    results = {
        "app1": {"changed": False, "missing": []},
        "app2": {"failed": True, "missing": ["systemd to run the app's unit: systemctl is not installed"]},
        "lb1": {"unreachable": True, "msg": "Failed to connect to the host via ssh: timed out"},
        "db1": {"failed": True, "msg": "MODULE FAILURE\nSee stdout/stderr for the exact error", "rc": 127},
    }
    message, lacking = verdict(results, ["app1", "app2", "lb1", "db1", "app3"])
    assert message.startswith("4 of 5 host(s) lack what this deploy needs: ")
    assert "app2 lacks systemd to run the app's unit: systemctl is not installed" in message
    assert "lb1 lacks unreachable: Failed to connect to the host via ssh: timed out" in message
    assert "db1 lacks the check could not run there: MODULE FAILURE See stdout/stderr" in message
    assert "app3 lacks not checked (no answer from the host)" in message
    assert "app1" not in lacking and set(lacking) == {"app2", "lb1", "db1", "app3"}


def test_the_verdict_is_none_when_every_host_has_everything():
    assert verdict({"app1": {"missing": []}, "lb1": {"missing": [], "changed": False}}, ["app1", "lb1"]) == (None, {})


@pytest.mark.parametrize("count, text", [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (3 * GIB, "3.0 GiB")])
def test_human_bytes(count, text):
    assert req.human_bytes(count) == text


# -- the module's run, without AnsibleModule --------------------------------------------------------------------


def test_run_judges_the_results_or_refuses_naming_the_hosts():
    results = {"app1": {"missing": []}, "app2": {"failed": True, "missing": ["systemd"]}}
    with pytest.raises(ModuleFailure) as err:
        req.run({"needs": None, "results": results, "hosts": ["app1", "app2"]}, False, tmpdir="/tmp")
    assert err.value.msg.startswith("preflight failed, nothing was changed: 1 of 2 host(s) lack")
    assert err.value.result == {"hosts": {"app2": ["systemd"]}}
    ok = req.run({"needs": None, "results": {"app1": {"missing": []}}, "hosts": ["app1"]}, True, tmpdir="/tmp")
    assert ok == {"changed": False, "hosts": {}}


def test_run_looks_at_this_host_and_refuses_unknown_or_malformed_needs():
    out = req.run({"needs": {"python": "3.8"}, "results": None, "hosts": None}, False, tmpdir="/tmp")
    assert out["changed"] is False and out["missing"] == [] and "python" in out["found"]
    with pytest.raises(ModuleFailure, match=r"needs has unknown key\(s\) pyton; it takes python, systemd"):
        req.run({"needs": {"pyton": "3.8"}, "results": None, "hosts": None}, False, tmpdir="/tmp")
    with pytest.raises(ModuleFailure, match="needs is malformed"):
        req.run({"needs": {"disk": {"path": "/opt/x"}}, "results": None, "hosts": None}, False, tmpdir="/tmp")
    with pytest.raises(ModuleFailure, match="this host lacks Python 99.0") as err:
        req.run({"needs": {"python": "99.0"}, "results": None, "hosts": None}, False, tmpdir="/tmp")
    assert err.value.result["missing"] and "python" in err.value.result["found"]
