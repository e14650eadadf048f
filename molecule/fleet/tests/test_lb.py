"""lb1: HAProxy as a systemd service, admin socket, every app server UP, no retries or redispatch."""

import csv
import io

testinfra_hosts = ["ansible://lb"]


def test_haproxy_is_a_running_systemd_service(host):
    haproxy = host.service("haproxy")
    assert haproxy.is_running
    assert haproxy.is_enabled
    assert host.socket("tcp://0.0.0.0:80").is_listening


def test_no_retries_and_no_redispatch(host):
    lines = [
        line.split("#", 1)[0].split() for line in host.file("/etc/haproxy/haproxy.cfg").content_string.splitlines()
    ]
    assert ["retries", "0"] in lines
    assert not [words for words in lines if "redispatch" in words], "option redispatch would hide failed requests"
    assert host.run("haproxy -c -q -f /etc/haproxy/haproxy.cfg").rc == 0


def test_every_app_server_is_up_on_the_admin_socket(host, app_names):
    assert host.file("/run/haproxy/admin.sock").is_socket
    out = host.check_output("echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock")
    rows = list(csv.DictReader(io.StringIO(out.lstrip("# "))))
    servers = {
        r["svname"]: r["status"] for r in rows if r["pxname"] == "app" and r["svname"] not in ("FRONTEND", "BACKEND")
    }
    assert sorted(servers) == sorted(app_names)
    assert all(status == "UP" for status in servers.values()), servers


def test_tcp_admin_socket_answers_the_controller(haproxy, app_names):
    servers = haproxy.servers("app")
    assert sorted(name for _, name in servers) == sorted(app_names)
    assert all(info["status"] == "UP" and info["state"] == "ready" for info in servers.values()), servers
