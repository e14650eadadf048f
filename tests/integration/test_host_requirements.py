"""host_requirements through real Ansible on this machine: real sockets, files, disk and interpreters."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest


@pytest.fixture
def stdlib_python(tmp_path):
    """An interpreter that sees only the standard library, as on a minimal image (no database driver)."""
    path = tmp_path / "python3"
    path.write_text('#!/bin/sh\nexec %s -S -E "$@"\n' % sys.executable)
    path.chmod(0o755)
    probe = subprocess.run([str(path), "-c", "import psycopg"], capture_output=True, check=False)
    assert probe.returncode != 0
    return str(path)


@pytest.fixture
def admin_socket(tmp_path):
    path = tmp_path / "admin.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    yield str(path)
    server.close()


def test_a_host_with_everything_passes_check_mode_and_real(module_runner, admin_socket, tmp_path):
    needs = {
        "python": "3.8",
        "sockets": [admin_socket],
        "db_driver": "postgresql",
        "disk": {
            "path": str(tmp_path / "opt" / "shop"),
            "release": "v2",
            "unpacked_bytes": 4096,
            "artifact_bytes": 1024,
        },
    }
    for check in (True, False):
        result = module_runner("host_requirements", {"needs": needs}, check=check)
        assert not result["failed"] and not result["changed"], result
        assert result["missing"] == []
        assert result["found"]["sockets"] == {admin_socket: True} and result["found"]["db_driver"] is True
        assert result["found"]["disk"]["path"] == str(tmp_path) and result["found"]["disk"]["free_bytes"] > 4096
    assert not (tmp_path / "opt").exists()  # nothing created


def test_every_lack_is_named_with_its_fix(module_runner, stdlib_python, tmp_path):
    plain = tmp_path / "not-a-socket"
    plain.write_text("")
    needs = {
        "python": "99.0",
        "sockets": [str(tmp_path / "missing.sock"), str(plain)],
        "nginx": {"conf": str(tmp_path / "nginx.conf"), "servers_file": str(plain)},
        "db_driver": "postgresql",
        "disk": {"path": str(tmp_path / "shop"), "release": "v2", "unpacked_bytes": 2**60, "artifact_bytes": 1},
    }
    result = module_runner("host_requirements", {"needs": needs}, env={"ANSIBLE_PYTHON_INTERPRETER": stdlib_python})
    assert result["failed"]
    lacks = result["missing"]
    assert lacks[0].startswith("Python 99.0 or newer (this host runs %d.%d." % sys.version_info[:2])
    assert lacks[1].startswith("the HAProxy runtime API: no socket at %s" % (tmp_path / "missing.sock"))
    assert lacks[2] == "the HAProxy runtime API: %s is not a socket" % plain
    assert lacks[3] == "nginx's conf: %s does not exist" % (tmp_path / "nginx.conf")
    assert lacks[4].startswith("the postgresql driver to apply the migrations (No module named 'psycopg')")
    assert lacks[5].startswith("1073741824.0 GiB free in %s for release v2 (" % tmp_path), lacks[5]
    assert len(lacks) == 6
    assert result["msg"] == "this host lacks " + "; ".join(lacks)


def test_a_release_already_unpacked_needs_no_space(module_runner, tmp_path):
    (tmp_path / "shop" / "releases" / "v2").mkdir(parents=True)
    needs = {
        "disk": {"path": str(tmp_path / "shop"), "release": "v2", "unpacked_bytes": 2**60, "artifact_bytes": 2**60}
    }
    result = module_runner("host_requirements", {"needs": needs})
    assert not result["failed"] and result["found"]["disk"] == "release v2 is already unpacked"


def test_the_verdict_fails_naming_every_host(module_runner):
    results = {
        "app1": {"changed": False, "missing": []},
        "app2": {"failed": True, "missing": ["Python 3.8 or newer (this host runs 3.6.8 with /usr/bin/python3)"]},
        "lb1": {"unreachable": True, "msg": "Failed to connect to the host via ssh"},
    }
    result = module_runner("host_requirements", {"results": results, "hosts": ["app1", "app2", "lb1"]})
    assert result["failed"]
    assert result["msg"] == (
        "preflight failed, nothing was changed: 2 of 3 host(s) lack what this deploy needs: "
        "app2 lacks Python 3.8 or newer (this host runs 3.6.8 with /usr/bin/python3) | "
        "lb1 lacks unreachable: Failed to connect to the host via ssh"
    )
    assert set(result["hosts"]) == {"app2", "lb1"}
    ok = module_runner("host_requirements", {"results": {"app1": results["app1"]}, "hosts": ["app1"]})
    assert not ok["failed"] and ok["hosts"] == {}


def test_bad_input_is_refused(module_runner):
    unknown = module_runner("host_requirements", {"needs": {"pyton": "3.8"}})
    assert unknown["failed"] and "needs has unknown key(s) pyton; it takes python, systemd" in unknown["msg"]
    malformed = module_runner("host_requirements", {"needs": {"disk": {"path": "/opt/x"}}})
    assert malformed["failed"] and malformed["msg"].startswith("needs is malformed (KeyError")
    both = module_runner("host_requirements", {"needs": {}, "results": {}, "hosts": []})
    assert both["failed"] and both["msg"] == "with results, host_requirements takes only hosts, not needs"
    no_hosts = module_runner("host_requirements", {"results": {}})
    assert no_hosts["failed"] and "hosts must list the host names that had to answer" in no_hosts["msg"]
