"""The test fleet's pure parts: names, addresses, generated HAProxy config, inventory, ssh_config."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest
from zerodown_testkit.fleet import ansible_inventory, core, releases, rootfs


def test_default_fleet_layout():
    spec = core.FleetSpec(name="unit", subnet="10.213.7.0/24", state_dir="/tmp/zdf-unit")
    assert [(h.name, h.group, h.ip) for h in spec.hosts] == [
        ("lb1", "lb", "10.213.7.2"),
        ("db1", "db", "10.213.7.3"),
        ("app1", "app", "10.213.7.11"),
        ("app2", "app", "10.213.7.12"),
        ("app3", "app", "10.213.7.13"),
        ("app4", "app", "10.213.7.14"),
    ]
    assert spec.bridge == "zdf-unit" and len(spec.bridge) <= 15
    assert spec.gateway == "10.213.7.1"
    facts = spec.facts()
    assert facts["fleet_lb_url"] == "http://10.213.7.2/"
    assert facts["fleet_haproxy_admin"] == "10.213.7.2:%d" % core.HAPROXY_ADMIN_PORT
    assert facts["fleet_db_host"] == "10.213.7.3"


def test_long_names_get_a_short_distinct_bridge():
    demo = core.FleetSpec(name="zerodown-demo", state_dir="/tmp/zdf-unit")
    other = core.FleetSpec(name="zerodown-demo2", state_dir="/tmp/zdf-unit")
    assert len(demo.bridge) <= 15 and len(other.bridge) <= 15
    assert demo.bridge != other.bridge and demo.bridge == core.bridge_name("zerodown-demo")
    assert core.FleetSpec(name="short-name1", state_dir="/tmp/zdf-unit").bridge == "zdf-short-name1"


def test_default_subnet_is_private_and_stable():
    one = core.FleetSpec(name="stable", state_dir="/tmp/zdf-unit")
    two = core.FleetSpec(name="stable", state_dir="/tmp/zdf-unit")
    assert one.subnet == two.subnet and re.match(r"^10\.213\.\d+\.0/24$", one.subnet)


@pytest.mark.parametrize("name", ["", "Upper", "-dash", "dash-", "1digit", "a b", "semi;colon", "a" * 33])
def test_bad_names_are_refused_with_the_value(name):
    with pytest.raises(core.FleetError, match="fleet name %r is not valid" % name):
        core.FleetSpec(name=name, state_dir="/tmp/zdf-unit")


@pytest.mark.parametrize("subnet", ["10.0.0.0/16", "8.8.8.0/24", "nonsense", "fd00::/64"])
def test_bad_subnets_are_refused_with_the_value(subnet):
    with pytest.raises(core.FleetError, match=re.escape("subnet %r is not valid" % subnet)):
        core.FleetSpec(name="unit", subnet=subnet, state_dir="/tmp/zdf-unit")


@pytest.mark.parametrize("count", [0, 201])
def test_bad_app_host_counts_are_refused(count):
    with pytest.raises(core.FleetError, match="app host count %r" % count):
        core.FleetSpec(name="unit", app_hosts=count, state_dir="/tmp/zdf-unit")


def test_state_directory_inside_the_repository_is_refused():
    with pytest.raises(core.FleetError, match="inside the repository"):
        core.FleetSpec(name="unit", state_dir=str(core.REPO / "tests" / "state"))


def test_with_surge_each_app_host_has_a_second_server_health_checked_and_out_of_the_pool():
    from ansible_collections.zerodown.deploy.plugins.module_utils.lb import nginx as _nginx

    spec = core.FleetSpec(name="unit", app_hosts=2, subnet="10.213.7.0/24", state_dir="/tmp/zdf-unit")
    words = [line.split("#", 1)[0].split() for line in core.haproxy_config(spec, surge=True).splitlines()]
    servers = [w for w in words if w[:1] == ["server"]]
    # the names the deploy plan gives by default (<server>_<slot>), no `disabled`: the runtime API cannot lift it
    assert servers == [
        ["server", "app1", "10.213.7.11:8080", "check"],
        ["server", "app1_b", "10.213.7.11:8081", "check"],
        ["server", "app2", "10.213.7.12:8080", "check"],
        ["server", "app2_b", "10.213.7.12:8081", "check"],
    ]
    text = core.nginx_servers(spec, surge=True)
    upstream, parsed = _nginx.parse_servers(text)
    assert [(s.address, s.state) for s in parsed] == [
        ("10.213.7.11:8080", "ready"),
        ("10.213.7.11:8081", "maint"),
        ("10.213.7.12:8080", "ready"),
        ("10.213.7.12:8081", "maint"),
    ]
    assert _nginx.render_servers(upstream, parsed) == text
    assert core.haproxy_config(spec) == core.haproxy_config(spec, surge=False)


def test_haproxy_config_has_no_retries_no_redispatch_and_one_server_per_app_host():
    spec = core.FleetSpec(name="unit", app_hosts=3, subnet="10.213.7.0/24", state_dir="/tmp/zdf-unit")
    config = core.haproxy_config(spec)
    words = [line.split("#", 1)[0].split() for line in config.splitlines()]
    assert ["retries", "0"] in words
    assert not [w for w in words if "redispatch" in w]
    assert ["option", "httpchk", "GET", "/health/ready"] in words
    assert ["option", "dontlog-normal"] in words  # failures still logged, not every request
    # keep-alive both sides, idle server connections shared between clients
    assert ["option", "http-keep-alive"] in words and ["http-reuse", "always"] in words
    assert not [w for w in words if "http-server-close" in w or "httpclose" in w]
    servers = [w for w in words if w[:1] == ["server"]]
    assert servers == [["server", "app%d" % i, "10.213.7.1%d:8080" % i, "check"] for i in (1, 2, 3)]
    assert ["stats", "socket", core.HAPROXY_SOCKET, "mode", "660", "level", "admin", "expose-fd", "listeners"] in words
    assert ["stats", "socket", "ipv4@10.213.7.2:9999", "level", "admin"] in words


def test_inventory_and_ssh_config(tmp_path):
    spec = core.FleetSpec(name="unit", app_hosts=2, subnet="10.213.7.0/24", state_dir=str(tmp_path / "state"))
    core.write_client_files(spec)
    inventory = json.loads(spec.inventory.read_text().split("\n", 1)[1])["all"]
    assert inventory["vars"]["ansible_user"] == "root"
    assert inventory["vars"]["ansible_python_interpreter"] == "/usr/bin/python3"
    assert inventory["vars"]["ansible_ssh_private_key_file"] == str(spec.key)
    assert "StrictHostKeyChecking=no" in inventory["vars"]["ansible_ssh_common_args"]
    assert inventory["children"] == {
        "app": {"hosts": {"app1": {"ansible_host": "10.213.7.11"}, "app2": {"ansible_host": "10.213.7.12"}}},
        "lb": {"hosts": {"lb1": {"ansible_host": "10.213.7.2"}}},
        "db": {"hosts": {"db1": {"ansible_host": "10.213.7.3"}}},
    }
    ssh_config = spec.ssh_config.read_text()
    assert "Host app1\n    HostName 10.213.7.11" in ssh_config
    assert "IdentityFile %s" % spec.key in ssh_config


def test_molecule_gets_one_fleet_per_checkout_and_scenario(monkeypatch):
    monkeypatch.delenv("ZERODOWN_FLEET_NAME", raising=False)
    monkeypatch.delenv("MOLECULE_SCENARIO_NAME", raising=False)
    assert core.default_name() == core.DEFAULT_NAME
    monkeypatch.setenv("MOLECULE_PROJECT_DIRECTORY", "/work/a")
    monkeypatch.setenv("MOLECULE_SCENARIO_NAME", "fleet")
    first = core.default_name()
    assert core.NAME_RE.match(first) and first == core.default_name()
    monkeypatch.setenv("MOLECULE_SCENARIO_NAME", "rolling")
    assert core.default_name() != first
    monkeypatch.setenv("ZERODOWN_FLEET_NAME", "mine")
    assert core.default_name() == "mine"


def test_inventory_script_is_empty_without_a_fleet_and_lists_it_after(tmp_path, monkeypatch):
    monkeypatch.setattr(core, "STATE_ROOT", tmp_path)
    monkeypatch.setenv("ZERODOWN_FLEET_NAME", "unit")
    empty = ansible_inventory.inventory()
    assert empty["app"] == {"hosts": []} and empty["_meta"]["hostvars"] == {}
    spec = core.FleetSpec(name="unit", app_hosts=2, subnet="10.213.7.0/24", state_dir=str(tmp_path / "unit"))
    core.write_client_files(spec)
    core.write_state(spec, "up")
    full = ansible_inventory.inventory()
    assert full["app"] == {"hosts": ["app1", "app2"]} and full["lb"] == {"hosts": ["lb1"]}
    assert full["_meta"]["hostvars"]["db1"] == {"ansible_host": "10.213.7.3"}
    assert full["all"]["vars"]["fleet_name"] == "unit"


def test_rootfs_cache_key_follows_the_source():
    key = rootfs.cache_key("http://deb.debian.org/debian", "bookworm")
    assert key == rootfs.cache_key("http://deb.debian.org/debian", "bookworm")
    assert key != rootfs.cache_key("http://deb.debian.org/debian", "trixie")
    assert key != rootfs.cache_key("http://mirror.example/debian", "bookworm")


def test_releases_command_needs_no_running_fleet(tmp_path, capsys):
    from zerodown_testkit.fleet import cli

    assert (
        cli.main(["releases", "--name", "unitrel", "--state-dir", str(tmp_path / "state"), "--out", str(tmp_path)]) == 0
    )
    built = sorted(p.name for p in tmp_path.glob("demoapp-*.tar.gz"))
    assert "demoapp-v1.tar.gz" in built and "demoapp-v2-never-ready.tar.gz" in built
    assert "v1 " in capsys.readouterr().out


def test_nginx_beside_haproxy_with_no_retries_and_the_modules_servers_file():
    from ansible_collections.zerodown.deploy.plugins.module_utils.lb import nginx as _nginx
    from ansible_collections.zerodown.deploy.plugins.module_utils.lb import nginx_log as _nginx_log

    spec = core.FleetSpec(name="unit", app_hosts=3, subnet="10.213.7.0/24", state_dir="/tmp/zdf-unit")
    facts = spec.facts()
    assert facts["fleet_nginx_url"] == "http://10.213.7.2:%d/" % core.NGINX_PORT and core.NGINX_PORT != 80
    assert facts["fleet_nginx_servers_file"] == core.NGINX_SERVERS_FILE
    assert facts["fleet_nginx_conf"] == core.NGINX_CONF and facts["fleet_nginx_pid_file"] == core.NGINX_PID_FILE
    config = core.nginx_config(spec)
    words = [line.split("#", 1)[0].strip().rstrip(";").split() for line in config.splitlines()]
    assert ["proxy_next_upstream", "off"] in words
    # keep-alive to the app: kept upstream connections, HTTP/1.1, no "Connection: close" passed on
    assert ["keepalive", "16"] in words
    assert ["proxy_http_version", "1.1"] in words and ["proxy_set_header", "Connection", '""'] in words
    assert ["listen", str(core.NGINX_PORT)] in words and ["listen", "80"] not in words
    assert ["include", core.NGINX_SERVERS_FILE] in words and ["upstream", facts["fleet_nginx_upstream"], "{"] in words
    assert ["pid", core.NGINX_PID_FILE] in words
    assert not [w for w in words if w[:1] == ["include"] and "sites-enabled" in w[1]]  # Debian's default site: :80
    # the servers file is what the nginx provider itself renders for every app server in the pool
    text = core.nginx_servers(spec)
    upstream, servers = _nginx.parse_servers(text)
    assert upstream == "app"
    assert [(s.address, s.state) for s in servers] == [("10.213.7.1%d:8080" % i, "ready") for i in (1, 2, 3)]
    assert _nginx.render_servers("app", servers) == text
    assert core.NGINX_SERVERS_HEADER == _nginx.HEADER_PREFIX
    # the access log canary_analysis reads, in the collection's log_format, unbuffered
    assert facts["fleet_nginx_access_log"] == core.NGINX_ACCESS_LOG
    assert core.NGINX_LOG_FORMAT == _nginx_log.LOG_FORMAT_DIRECTIVE and core.NGINX_LOG_FORMAT in config
    assert ["access_log", core.NGINX_ACCESS_LOG, "zerodown"] in words
    assert not [w for w in words if w[:1] == ["access_log"] and w[1:2] != [core.NGINX_ACCESS_LOG]]


def test_cgroup_pids_survive_a_cgroup_that_vanishes_during_the_walk(tmp_path, monkeypatch):
    import os

    (tmp_path / "lb1/payload/system.slice/gone.service").mkdir(parents=True)
    (tmp_path / "lb1/cgroup.procs").write_text("11\n12\n")
    (tmp_path / "lb1/payload/cgroup.procs").write_text("13\n")
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("gone.service"):  # removed by the machine's systemd between listing and reading
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert sorted(core._cgroup_pids(tmp_path / "lb1")) == [11, 12, 13]


def test_the_app_image_is_part_of_the_fleets_saved_spec(tmp_path, monkeypatch):
    """Every step (up, bootstrap, tests, down) reads the image from fleet.json, so they agree on it."""
    monkeypatch.setattr(core, "STATE_ROOT", tmp_path)
    spec = core.FleetSpec(name="unit", app_hosts=2, subnet="10.213.7.0/24", state_dir=str(tmp_path / "unit"))
    assert spec.app_image == "full"
    minimal = core.FleetSpec(
        name="unit", app_hosts=2, subnet="10.213.7.0/24", state_dir=str(tmp_path / "unit"), app_image="minimal"
    )
    core.write_state(minimal, "up")
    loaded = core.load_spec("unit", str(tmp_path / "unit"))
    assert loaded.app_image == "minimal" and loaded.facts()["fleet_app_image"] == "minimal"
    from zerodown_testkit.fleet import bootstrap

    assert "DEMOAPP_SERVER=stdlib" in bootstrap.env_file(minimal), "no gunicorn on the minimal image"
    assert "DEMOAPP_SERVER" not in bootstrap.env_file(spec), "the full image runs each release's own server"
    with pytest.raises(core.FleetError, match="image 'tiny' is not valid: use one of full, minimal"):
        core.FleetSpec(name="unit", app_hosts=2, subnet="10.213.7.0/24", state_dir="/tmp/zdf-unit", app_image="tiny")


def _demoapp():
    spec = importlib.util.spec_from_file_location("fleet_demoapp", releases.APP_DIR / "demoapp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _seconds(words, *key):
    """The value of directive ``key`` in a config's words (``60s`` -> 60)."""
    [value] = [w[len(key)] for w in words if tuple(w[: len(key)]) == key]
    return int(value.rstrip("s"))


def test_every_release_runs_on_the_keep_alive_server_and_outlives_the_load_balancers_idle_connections():
    spec = core.FleetSpec(name="unit", app_hosts=2, subnet="10.213.7.0/24", state_dir="/tmp/zdf-unit")
    assert {name: v["config"]["server"] for name, v in releases.VARIANTS.items()} == {
        name: "gunicorn" for name in releases.VARIANTS
    }
    assert "python3-gunicorn" in rootfs.PACKAGES
    demoapp = _demoapp()
    assert set(demoapp.SERVERS) == {"stdlib", "gunicorn"}
    # the load balancer closes an idle kept connection before the app would: a request never goes down a
    # connection the app closed at the same moment
    haproxy = [line.split("#", 1)[0].split() for line in core.haproxy_config(spec).splitlines()]
    nginx = [line.split("#", 1)[0].strip().rstrip(";").split() for line in core.nginx_config(spec).splitlines()]
    assert demoapp.GUNICORN_KEEPALIVE > _seconds(haproxy, "timeout", "server")
    start = nginx.index(["upstream", core.NGINX_UPSTREAM, "{"])
    upstream = nginx[start : nginx.index(["}"], start)]
    assert demoapp.GUNICORN_KEEPALIVE > _seconds(upstream, "keepalive_timeout")


def test_added_latency_delays_every_answer_but_the_health_checks(monkeypatch):
    demoapp = _demoapp()
    monkeypatch.setenv("DEMOAPP_ADDED_LATENCY", "0.25")
    config = demoapp.load_config()
    assert config["added_latency"] == 0.25
    slept = []
    monkeypatch.setattr(demoapp.time, "sleep", slept.append)
    app = demoapp.App(dict(config, ready_delay=0.0))
    assert demoapp.respond(app, "/health/ready", "")[0] == 200 and demoapp.respond(app, "/health/live", "")[0] == 200
    assert slept == []
    assert demoapp.respond(app, "/", "")[0] == 200 and demoapp.respond(app, "/version", "")[0] == 200
    assert slept == [0.25, 0.25]
    assert releases.VARIANTS["v2-slow-300"]["config"]["added_latency"] == 0.3
    assert demoapp.load_config()["error_rate"] == 0.0  # the slow variant fails nothing


def test_the_analysis_bench_variants_fail_at_their_rates():
    demoapp = _demoapp()
    for name, rate in (("v2-errors-27", 0.27), ("v2-errors-5", 0.05), ("v2-5xx-at-5s", 0.5)):
        config = dict(demoapp.load_config(), **releases.VARIANTS[name]["config"])
        app = demoapp.App(dict(config, error_after=0.0, ready_delay=0.0))
        failed = sum(demoapp.respond(app, "/", "")[0] == 500 for _request in range(100))
        assert failed == round(100 * rate), name
