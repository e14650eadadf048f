"""Every fleet machine is a host of its own: SSH, systemd as PID 1, its own address, no way out."""

import time

testinfra_hosts = ["ansible://all"]


def test_reachable_over_ssh_as_itself(host):
    name = host.ansible.get_variables()["inventory_hostname"]
    assert host.check_output("hostname") == name
    assert host.user().name == "root"


def test_systemd_is_pid_1_and_running(host):
    assert host.check_output("readlink /proc/1/exe").endswith("/systemd")
    assert host.process.get(pid=1).comm == "systemd"
    deadline = time.monotonic() + 30
    state = ""
    while time.monotonic() < deadline:
        state = host.run("systemctl is-system-running").stdout.strip()
        if state != "starting":
            break
        time.sleep(0.5)
    assert state == "running", host.run("systemctl --failed --no-pager").stdout


def test_sshd_is_a_systemd_service(host):
    sshd = host.service("ssh")
    assert sshd.is_running
    assert sshd.is_enabled


def test_own_static_address_and_no_route_out(host):
    address = host.ansible.get_variables()["ansible_host"]
    assert address in host.interface("host0").addresses
    routes = host.check_output("ip -4 route show")
    assert "default" not in routes
    assert host.run("ip route get 192.0.2.1").rc != 0, "a fleet machine must have no route out"


def test_python_for_ansible(host):
    assert host.check_output("/usr/bin/python3 -c 'import sys; print(sys.version_info[0])'") == "3"
