"""app hosts: v1 in the release layout, run by systemd, talking to the database on db1."""

import time

from conftest import http_get

testinfra_hosts = ["ansible://app"]


def test_v1_is_installed_in_the_release_layout(host):
    current = host.file("/opt/demoapp/current")
    assert current.is_symlink
    assert current.linked_to == "/opt/demoapp/releases/v1"
    assert host.file("/opt/demoapp/current/VERSION").content_string.strip() == "v1"
    assert host.file("/opt/demoapp/current/bin/start").mode & 0o111
    assert host.file("/opt/demoapp/current/migrations/0001_create_visits.sql").exists
    assert host.file("/opt/demoapp/shared/demoapp.env").exists
    unit = host.file("/etc/systemd/system/demoapp.service").content_string
    assert "ExecStart=/opt/demoapp/current/bin/start" in unit


def test_database_is_reachable_from_the_app_host(host):
    env = host.ansible.get_variables()
    psql = host.run(
        "PGPASSWORD=%s psql -h db1 -U %s -d %s -Atc 'SELECT count(*) >= 0 FROM visits'"
        % (env["fleet_db_password"], env["fleet_db_user"], env["fleet_db_name"])
    )
    assert psql.rc == 0, psql.stderr
    assert psql.stdout.strip() == "t"
    driver = host.run(
        "python3 -c \"import psycopg2; c = psycopg2.connect(host='db1', dbname='%s', user='%s', password='%s', "
        'connect_timeout=5); print(c.server_version)"'
        % (env["fleet_db_name"], env["fleet_db_user"], env["fleet_db_password"])
    )
    assert driver.rc == 0, driver.stderr
    assert int(driver.stdout) >= 150000


def _main_pid(host) -> int:
    return int(host.check_output("systemctl show -p MainPID --value demoapp"))


def test_systemd_manages_the_app_and_restarts_it_when_killed(host, haproxy):
    name = host.ansible.get_variables()["inventory_hostname"]
    address = host.ansible.get_variables()["ansible_host"]
    service = host.service("demoapp")
    assert service.is_running and service.is_enabled
    pid = _main_pid(host)
    assert pid > 0
    assert host.process.get(pid=pid).user == "demoapp"
    host.check_output("kill -9 %d" % pid)
    deadline = time.monotonic() + 20
    new_pid = 0
    while time.monotonic() < deadline:
        new_pid = _main_pid(host)
        if new_pid not in (0, pid) and host.service("demoapp").is_running:
            break
        time.sleep(0.2)
    assert new_pid not in (0, pid), "systemd did not restart demoapp after SIGKILL"
    # back in service: answering, and UP again in HAProxy before the next test
    while time.monotonic() < deadline + 20:
        try:
            ready = http_get(address, "/health/ready", port=8080)[0] == 200
        except OSError:
            ready = False
        if ready and haproxy.server("app", name)["status"] == "UP":
            break
        time.sleep(0.2)
    assert haproxy.server("app", name)["status"] == "UP"
