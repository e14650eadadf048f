"""lb1: nginx beside HAProxy on its own port, one upstream from the servers file the zerodown modules own."""

import json

from conftest import http_get

testinfra_hosts = ["ansible://lb1"]


def test_nginx_is_a_running_systemd_service_on_its_own_port(host, facts):
    nginx = host.service("nginx")
    assert nginx.is_running
    assert nginx.is_enabled
    port = int(facts["fleet_nginx_url"].rstrip("/").rsplit(":", 1)[1])
    assert port != 80
    assert host.socket("tcp://0.0.0.0:%d" % port).is_listening
    assert host.socket("tcp://0.0.0.0:80").is_listening  # HAProxy keeps :80
    assert host.file(facts["fleet_nginx_pid_file"]).content_string.strip().isdigit()


def test_no_retries_and_the_upstream_includes_the_servers_file(host, facts):
    assert host.run("nginx -t -q -c %s", facts["fleet_nginx_conf"]).rc == 0
    lines = [
        line.split("#", 1)[0].strip().rstrip(";").split()
        for line in host.file(facts["fleet_nginx_conf"]).content_string.splitlines()
    ]
    assert ["proxy_next_upstream", "off"] in lines, "nginx retrying on another server would hide failed requests"
    assert ["upstream", facts["fleet_nginx_upstream"], "{"] in lines
    assert ["include", facts["fleet_nginx_servers_file"]] in lines


def test_servers_file_has_every_app_server_in_the_pool(host, facts, runner, app_names):
    text = host.file(facts["fleet_nginx_servers_file"]).content_string
    lines = [line.strip().rstrip(";").split() for line in text.splitlines() if line.strip().startswith("server ")]
    expected = ["%s:%s" % (runner.get_variables(name)["ansible_host"], facts["fleet_app_port"]) for name in app_names]
    # every app server, in the pool: no parameters, so no "down"
    assert lines == [["server", address] for address in expected]


def test_v1_serves_through_nginx_from_every_app_host(facts, app_names):
    address = facts["fleet_nginx_url"].split("//", 1)[1].rstrip("/")
    lb, port = address.rsplit(":", 1)
    seen = set()
    for _attempt in range(4 * len(app_names)):
        status, headers, body = http_get(lb, "/", port=int(port))
        assert status == 200, body
        assert headers.get("X-App-Version") == "v1"
        seen.add(json.loads(body)["host"])
    assert seen == set(app_names)
