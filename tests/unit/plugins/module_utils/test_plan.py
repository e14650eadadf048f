"""The deploy plan: one pure function of the deploy variables, every problem reported at once."""

from __future__ import annotations

import hashlib

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._plan import (
    PlanError,
    batch_size,
    batches,
    build_plan,
    counters_problem,
    worst_case_seconds,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import nginx_log

IDENTITY = {"run_id": "r-1", "owner": "ops", "controller": "ctl"}
APPS = ("app1", "app2", "app3", "app4")


@pytest.fixture
def artifact(tmp_path):
    path = tmp_path / "shop-v2.tar.gz"
    path.write_bytes(b"release bytes")
    return str(path), hashlib.sha256(b"release bytes").hexdigest()


def sha(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def plan(variables, mode="deploy", apps=APPS, lbs=("lb1",), addresses=None):
    return build_plan(variables, mode, list(apps), list(lbs), [], addresses or {}, IDENTITY, sha)


def deploy_vars(artifact, **extra):
    base = {
        "zerodown_app_name": "shop",
        "zerodown_release": "v2",
        "zerodown_artifact": artifact[0],
        "zerodown_exec_start": "bin/start",
        "zerodown_lb": {"backend": "app"},
    }
    base.update(extra)
    return base


def test_a_plan_holds_every_decision(artifact):
    out = plan(deploy_vars(artifact, zerodown_batch_size="50%", zerodown_artifact_checksum="sha256:" + artifact[1]))
    assert out["run_id"] == "r-1" and out["owner"] == "ops" and out["controller"] == "ctl"
    assert out["strategy"] == "rolling" and out["role"] == "zerodown.deploy.rolling"
    assert out["batches"] == [["app1", "app2"], ["app3", "app4"]] and out["batch_size"] == 2
    assert out["servers"] == {h: h for h in APPS}
    assert out["lb"] == {
        "provider": "haproxy",
        "backend": "app",
        "api_timeout": 5.0,
        "socket": ["/run/haproxy/admin.sock"],
        "nginx": None,
        "servers": out["servers"],
    }
    assert out["lock_host"] == "lb1" and out["lb_hosts"] == ["lb1"]
    assert out["state_dir"] == "/var/lib/zerodown"
    assert out["worst_case_seconds"] == worst_case_seconds(2, 60, 30, 60) == 440
    assert out["lock_ttl"] == 440 + 600
    # "release bytes" is no tarball: its size is known, what it unpacks to is not (no disk check for it)
    assert out["artifact"] == {
        "src": artifact[0],
        "url": None,
        "sha256": artifact[1],
        "bytes": 13,
        "unpacked_bytes": None,
    }
    assert out["requirements"]["app1"] == {"python": "3.8", "systemd": True}
    assert out["ledger"] == {"app": "shop", "path": "/var/lib/zerodown", "run_id": "r-1", "servers": out["servers"]}
    assert out["entry_url"] == "http://lb1:80"
    assert out["hooks"]["before_switch"] == "" and out["migrations"]["source"] == "none"
    assert any("2 batch(es)" in line for line in out["summary"])


def test_every_problem_is_listed_in_one_error(tmp_path):
    bad = {
        "zerodown_app_name": "../etc",
        "zerodown_release": "v 2",
        "zerodown_strategy": "big_bang",
        "zerodown_batch_size": "0",
        "zerodown_drain_timeout": "soon",
        "zerodown_artifact": str(tmp_path / "missing.tar.gz"),
        "zerodown_lb": {"provider": "f5", "colour": "blue"},
    }
    with pytest.raises(PlanError) as err:
        plan(bad)
    text = str(err.value)
    for fragment in (
        "zerodown_app_name",
        "zerodown_release",
        "big_bang",
        "zerodown_batch_size '0'",
        "zerodown_drain_timeout='soon'",
        "missing.tar.gz is not a file",
        "zerodown_exec_start is missing",
        "unknown key(s) colour",
        "provider='f5'",
        "backend is missing",
    ):
        assert fragment in text, fragment
    assert "nothing was changed" in text
    assert len(err.value.problems) >= 10


def test_a_wrong_checksum_is_refused_before_anything(artifact):
    with pytest.raises(PlanError, match="has sha256 .* not zerodown_artifact_checksum"):
        plan(deploy_vars(artifact, zerodown_artifact_checksum="0" * 64))
    with pytest.raises(PlanError, match="not a sha256"):
        plan(deploy_vars(artifact, zerodown_artifact_checksum="abc"))


def test_a_lock_ttl_below_the_plans_own_worst_case_is_refused(artifact):
    """A lock that expires while the deploy may still run lets a second deploy take it over."""
    worst = plan(deploy_vars(artifact))["worst_case_seconds"]
    assert worst == worst_case_seconds(4, 60, 30, 60) == 760
    with pytest.raises(PlanError) as err:
        plan(deploy_vars(artifact, zerodown_lock_ttl=60))
    message = str(err.value)
    assert "zerodown_lock_ttl is 60 s, less than the 760 s this deploy can take at its timeouts" in message
    assert "remove zerodown_lock_ttl (the plan then uses 1360 s" in message and "at least 760" in message
    many = ["app%d" % n for n in range(1, 101)]
    with pytest.raises(
        PlanError, match="zerodown_lock_ttl is 3600 s, less than the %d s" % worst_case_seconds(100, 60, 30, 60)
    ):
        plan(deploy_vars(artifact, zerodown_lock_ttl=3600), apps=many)
    assert plan(deploy_vars(artifact, zerodown_lock_ttl=760))["lock_ttl"] == 760
    assert plan(deploy_vars(artifact, zerodown_lock_ttl="7200"))["lock_ttl"] == 7200


def test_a_url_needs_a_checksum(artifact):
    with pytest.raises(PlanError, match="is a URL .* set zerodown_artifact_checksum"):
        plan(deploy_vars(artifact, zerodown_artifact="https://example.invalid/shop.tar.gz"))
    out = plan(
        deploy_vars(
            artifact, zerodown_artifact="https://example.invalid/shop.tar.gz", zerodown_artifact_checksum="a" * 64
        )
    )
    assert out["artifact"] == {"src": None, "url": "https://example.invalid/shop.tar.gz", "sha256": "a" * 64}


def test_the_older_haproxy_shorthand_still_works_with_a_deprecation(artifact):
    variables = deploy_vars(artifact, zerodown_haproxy_backend="web", zerodown_haproxy_server_names={"app1": "web1"})
    del variables["zerodown_lb"]
    out = plan(variables)
    assert out["lb"]["backend"] == "web" and out["servers"]["app1"] == "web1" and out["servers"]["app2"] == "app2"
    assert out["deprecations"] and "zerodown_haproxy_backend" in out["deprecations"][0]
    with pytest.raises(PlanError, match="keep only zerodown_lb"):
        plan(dict(variables, zerodown_lb={"backend": "app"}))


def test_nginx_servers_default_to_the_hosts_address_and_port(artifact):
    variables = deploy_vars(
        artifact,
        zerodown_app_port=8081,
        zerodown_lb={
            "provider": "nginx",
            "upstream": "app",
            "nginx": {"conf": "/etc/nginx/nginx.conf", "servers_file": "/etc/nginx/app.servers"},
        },
    )
    out = plan(variables, addresses={"app1": "10.0.0.11"})
    assert out["lb"]["provider"] == "nginx" and out["lb"]["socket"] is None
    assert out["servers"]["app1"] == "10.0.0.11:8081" and out["servers"]["app2"] == "app2:8081"
    with pytest.raises(PlanError, match="needs zerodown_lb.nginx with conf"):
        plan(deploy_vars(artifact, zerodown_lb={"provider": "nginx", "backend": "app"}))


def test_server_names_are_unique_safe_and_name_app_hosts_only(artifact):
    with pytest.raises(PlanError) as err:
        plan(
            deploy_vars(
                artifact,
                zerodown_lb={"backend": "app", "servers": {"app1": "x", "app2": "x", "db9": "y", "app3": "a;b"}},
            )
        )
    text = str(err.value)
    assert "both server 'x'" in text and "db9" in text and "'a;b'" in text


def test_hosts_and_strategies(artifact):
    with pytest.raises(PlanError, match="no host matches the app pattern"):
        plan(deploy_vars(artifact), apps=[])
    with pytest.raises(PlanError, match="both app and load-balancer hosts"):
        plan(deploy_vars(artifact), lbs=["app1"])
    with pytest.raises(PlanError, match="the blue group 'blue' .* has no app host"):
        plan(deploy_vars(artifact, zerodown_strategy="blue_green"))


def test_blue_green_colours_come_from_inventory_groups(artifact):
    groups = {"blue": ["app1", "app2"], "green": ["app3", "app4"]}
    out = build_plan(
        deploy_vars(artifact, zerodown_strategy="blue_green", zerodown_standby="stop"),
        "deploy",
        list(APPS),
        ["lb1"],
        [],
        {},
        IDENTITY,
        sha,
        groups=groups,
    )
    assert out["role"] == "zerodown.deploy.blue_green"
    assert out["blue_green"]["colours"] == groups and out["blue_green"]["standby"] == "stop"
    assert any("colours: blue = app1, app2; green = app3, app4" in line for line in out["summary"])
    with pytest.raises(PlanError) as err:
        build_plan(
            deploy_vars(
                artifact, zerodown_strategy="blue_green", zerodown_standby="later", zerodown_adopt_colour="red"
            ),
            "deploy",
            list(APPS),
            ["lb1"],
            [],
            {},
            IDENTITY,
            sha,
            groups={"blue": ["app1", "app3"], "green": ["app3"]},
        )
    text = str(err.value)
    assert "app3 are in both" in text and "app2, app4 are in neither" in text
    assert "zerodown_standby='later'" in text and "zerodown_adopt_colour='red'" in text


def test_canary_hosts_steps_weights_and_promotion_batches(artifact):
    out = plan(
        deploy_vars(
            artifact, zerodown_strategy="canary", zerodown_canary_hosts="25%", zerodown_canary_steps=[5, 50, 100]
        )
    )
    c = out["canary"]
    assert c["hosts"] == ["app1"] and c["baseline"] == ["app2", "app3", "app4"]
    assert [s["percent"] for s in c["steps"]] == [5, 50, 100]
    assert c["steps"][0]["servers"]["app1"] == {"weight": 3, "state": "ready"} and c["steps"][0]["servers"]["app2"] == {
        "weight": 19
    }
    assert c["steps"][-1]["weights"]["app2"] == 0
    assert out["batches"] == [["app2"], ["app3"], ["app4"]], "the rest follows in rolling batches"
    assert c["max_wait"] == 120 and c["on_inconclusive"] == "pause"
    assert (
        plan(deploy_vars(artifact, zerodown_strategy="canary", zerodown_canary_on_inconclusive="fail"))["canary"][
            "max_wait"
        ]
        == 0
    )
    with pytest.raises(PlanError) as err:
        plan(
            deploy_vars(
                artifact,
                zerodown_strategy="canary",
                zerodown_canary_hosts=4,
                zerodown_canary_steps=[50, 25, "x"],
                zerodown_canary_max_error_rate=5,
                zerodown_canary_on_inconclusive="wait",
            )
        )
    text = str(err.value)
    for fragment in (
        "leave at least one baseline host",
        "must rise",
        "'x' is not a percentage",
        "zerodown_canary_max_error_rate=5: give a fraction",
        "pause or fail",
    ):
        assert fragment in text, fragment


def test_rollback_and_contract_need_less(tmp_path):
    out = plan({"zerodown_app_name": "shop", "zerodown_lb": {"backend": "app"}}, mode="rollback")
    assert out["mode"] == "rollback" and "artifact" not in out
    out = plan({"zerodown_app_name": "shop", "zerodown_release": "v2"}, mode="contract")
    assert out["lock_host"] == "lb1"
    with pytest.raises(PlanError, match="backend is missing"):
        plan({"zerodown_app_name": "shop"}, mode="rollback")


@pytest.mark.parametrize(
    "value, hosts, size",
    [(1, 4, 1), ("2", 4, 2), ("25%", 4, 1), ("50%", 4, 2), ("10%", 4, 1), ("100%", 3, 3), ("33%", 12, 3)],
)
def test_batch_size_is_serial_arithmetic(value, hosts, size):
    assert batch_size(value, hosts) == size


@pytest.mark.parametrize("value", [0, "-1", "0%", "150%", "many", True, None])
def test_bad_batch_sizes(value):
    with pytest.raises(ValueError, match="zerodown_batch_size"):
        batch_size(value, 4)


def test_batches_keep_inventory_order():
    assert batches(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]


def test_a_canary_through_nginx_needs_its_access_log(artifact):
    nginx = {"provider": "nginx", "backend": "app", "nginx": {"conf": "/etc/nginx/nginx.conf", "servers_file": "/x"}}
    with pytest.raises(PlanError) as err:
        plan(deploy_vars(artifact, zerodown_strategy="canary", zerodown_lb=nginx))
    text = str(err.value)
    assert "zerodown_strategy=canary judges each step from the load balancer's per-server counters" in text
    assert "set zerodown_lb.nginx.access_log" in text and nginx_log.LOG_FORMAT_DIRECTIVE in text
    assert plan(deploy_vars(artifact, zerodown_strategy="rolling", zerodown_lb=nginx))["lb"]["provider"] == "nginx"
    relative = dict(nginx, nginx=dict(nginx["nginx"], access_log="zerodown-access.log"))
    with pytest.raises(PlanError, match="'zerodown-access.log' is not an absolute path"):
        plan(deploy_vars(artifact, zerodown_strategy="canary", zerodown_lb=relative))
    # with the log, a canary plan whose analysis runs where the log is: the lock host, a load-balancer host
    logged = dict(nginx, nginx=dict(nginx["nginx"], access_log="/var/log/nginx/zerodown-access.log"))
    out = plan(
        deploy_vars(artifact, zerodown_strategy="canary", zerodown_lb=logged, zerodown_canary_steps=[5, 100]),
        lbs=("lb1", "lb2"),
        addresses={"app%d" % i: "10.0.0.1%d" % i for i in range(1, 5)},
    )
    assert out["lock_host"] == "lb1" and out["lock_host"] in out["lb_hosts"]
    assert out["lb"]["nginx"]["access_log"] == "/var/log/nginx/zerodown-access.log"
    first, last = out["canary"]["steps"]
    assert first["servers"]["10.0.0.11:8080"] == {"weight": 3, "state": "ready"}
    assert first["servers"]["10.0.0.12:8080"] == {"weight": 19}
    # nginx has no weight 0: at 100 % the baseline is drained (no new requests) instead
    assert last["servers"]["10.0.0.11:8080"] == {"weight": 1, "state": "ready"}
    assert {last["servers"]["10.0.0.1%d:8080" % i]["state"] for i in (2, 3, 4)} == {"drain"}
    assert not [s for step in out["canary"]["steps"] for s in step["servers"].values() if s.get("weight") == 0]


def test_counters_problem_is_the_one_check_of_per_server_counters():
    assert counters_problem({"provider": "haproxy", "socket": ["/run/haproxy/admin.sock"]}, "x") is None
    assert counters_problem({"provider": "nginx", "nginx": {"access_log": "/var/log/nginx/zd.log"}}, "x") is None
    problem = counters_problem({"provider": "nginx", "nginx": {"conf": "/etc/nginx/nginx.conf"}}, "a bake time")
    assert problem.startswith("a bake time from the load balancer's per-server counters")
    assert "zerodown_lb.nginx.access_log" in problem and "access_log /var/log/nginx/zerodown-access.log" in problem
    assert counters_problem({"provider": "nginx", "nginx": None}, "x")


def test_the_bake_window_is_off_by_default_and_takes_the_canary_thresholds(artifact):
    assert plan(deploy_vars(artifact))["bake"]["time"] == 0
    off = plan(deploy_vars(artifact))["worst_case_seconds"]
    out = plan(deploy_vars(artifact, zerodown_bake_time=120, zerodown_canary_max_error_rate=0.02))
    every = {
        "min_requests": 100,
        "max_error_rate": 0.02,
        "max_latency_ratio": 1.5,
        "significance": 0.01,
        "min_latency_ms": 5.0,
        "min_latency_increase_ms": 50.0,
        "warmup": 5.0,
        "latency_looks": 3,
    }
    assert out["bake"] == dict(every, time=120.0)
    assert out["thresholds"] == every  # the one dict canary_analysis's ``thresholds`` takes
    assert out["worst_case_seconds"] == off + 120
    assert any(line.startswith("bake: 120 s after the last switch") for line in out["summary"])
    for strategy in ("blue_green", "canary"):
        variables = deploy_vars(artifact, zerodown_strategy=strategy, zerodown_bake_time=30)
        groups = {"blue": ["app1", "app2"], "green": ["app3", "app4"]}
        built = build_plan(variables, "deploy", list(APPS), ["lb1"], [], {}, IDENTITY, sha, groups=groups)
        assert built["bake"]["time"] == 30


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-5, "zerodown_bake_time=-5: give 0 or more seconds"),
        ("soon", "zerodown_bake_time='soon'"),
        (float("nan"), "zerodown_bake_time=nan is not a finite number"),
        (1e13, "zerodown_bake_time=10000000000000.0: give 0 or more seconds, at most 2592000"),
    ],
)
def test_bad_bake_times_are_refused(artifact, value, message):
    with pytest.raises(PlanError, match=message):
        plan(deploy_vars(artifact, zerodown_bake_time=value))


def test_a_bake_window_needs_counters(artifact):
    nginx = {"provider": "nginx", "backend": "app", "nginx": {"conf": "/etc/nginx/nginx.conf", "servers_file": "/x"}}
    with pytest.raises(PlanError, match="zerodown_bake_time=60 judges the new release from the load balancer's"):
        plan(deploy_vars(artifact, zerodown_lb=nginx, zerodown_bake_time=60))
    logged = dict(nginx, nginx=dict(nginx["nginx"], access_log="/var/log/nginx/zerodown-access.log"))
    assert plan(deploy_vars(artifact, zerodown_lb=logged, zerodown_bake_time=60))["bake"]["time"] == 60


def test_the_plan_says_whether_the_deploy_can_count_its_failed_requests(artifact):
    assert plan(deploy_vars(artifact))["traffic"] == {"measured": True, "reason": None}  # HAProxy always
    nginx = {"provider": "nginx", "backend": "app", "nginx": {"conf": "/etc/nginx/nginx.conf", "servers_file": "/x"}}
    out = plan(deploy_vars(artifact, zerodown_lb=nginx))["traffic"]
    assert out["measured"] is False
    assert out["reason"].startswith("the deploy's summary counts the failed requests from the load balancer's")
    assert "set zerodown_lb.nginx.access_log" in out["reason"]
    logged = dict(nginx, nginx=dict(nginx["nginx"], access_log="/var/log/nginx/zerodown-access.log"))
    assert plan(deploy_vars(artifact, zerodown_lb=logged))["traffic"] == {"measured": True, "reason": None}


# -- the analysis during the rollout -----------------------------------------------------------------


def test_the_rollout_analysis_is_on_by_default_where_the_load_balancer_counts(artifact):
    out = plan(deploy_vars(artifact))
    assert out["rollout_analysis"] == {"enabled": True, "watch": 10.0, "batch_watch": 0.0, "note": ""}
    assert any(line.startswith("analysis during the rollout: before each batch moves") for line in out["summary"])
    watched = plan(deploy_vars(artifact, zerodown_rollout_batch_watch=5))
    assert watched["worst_case_seconds"] == out["worst_case_seconds"] + 4 * 5  # one watch per batch
    assert "(watched 5 s)" in "\n".join(watched["summary"])


def test_the_rollout_analysis_is_off_with_a_note_for_nginx_without_its_access_log(artifact):
    nginx = {"provider": "nginx", "backend": "app", "nginx": {"conf": "/etc/nginx/nginx.conf", "servers_file": "/x"}}
    out = plan(deploy_vars(artifact, zerodown_lb=nginx), addresses={h: "10.0.0.%d" % i for i, h in enumerate(APPS)})
    assert out["rollout_analysis"]["enabled"] is False
    assert "set zerodown_lb.nginx.access_log" in out["rollout_analysis"]["note"]
    assert any(line.startswith("analysis during the rollout: off - ") for line in out["summary"])


@pytest.mark.parametrize(("value", "enabled"), [(False, False), ("no", False), ("True", True), ("on", True)])
def test_the_rollout_analysis_can_be_turned_off(artifact, value, enabled):
    out = plan(deploy_vars(artifact, zerodown_rollout_analysis=value))
    assert out["rollout_analysis"]["enabled"] is enabled


def test_the_canary_strategy_judges_its_own_steps_without_the_rollout_analysis(artifact):
    out = plan(deploy_vars(artifact, zerodown_strategy="canary"))
    assert out["rollout_analysis"]["enabled"] is False


def test_bad_rollout_analysis_variables_are_problems(artifact):
    with pytest.raises(PlanError) as exc:
        plan(deploy_vars(artifact, zerodown_rollout_analysis="maybe", zerodown_rollout_watch=-1))
    assert "zerodown_rollout_analysis='maybe' must be true or false" in str(exc.value)
    assert "zerodown_rollout_watch" in str(exc.value)


def test_a_hook_that_is_not_a_readable_file_on_the_controller_is_refused_before_any_change(artifact, tmp_path):
    """include_tasks would fail only when the hook's point is reached, and a rescue entered by an include error
    has no failed task to name (seen: every host's stage "failed" and the run ended "unchanged")."""
    hook = tmp_path / "after_stage.yml"
    hook.write_text("- ansible.builtin.ping:\n")
    variables = deploy_vars(
        artifact, zerodown_hook_before_stage="/hooks/before_stage.yml", zerodown_hook_after_stage=str(hook)
    )
    with pytest.raises(PlanError) as err:
        plan(variables)
    assert err.value.problems == [
        "zerodown_hook_before_stage=/hooks/before_stage.yml is not a readable file on the controller: give the path"
        " of a task file of yours, absolute or relative to the directory ansible-playbook runs in (e.g."
        " hooks/before_stage.yml)"
    ]
    del variables["zerodown_hook_before_stage"]
    assert plan(variables)["hooks"]["after_stage"] == str(hook)


# -- surge (docs/surge.md): the slots, each host's two servers, and what the plan refuses --

NGINX = {
    "provider": "nginx",
    "backend": "app",
    "nginx": {"conf": "/etc/nginx/nginx.conf", "servers_file": "/etc/nginx/zerodown/app.servers"},
}


def surge_vars(artifact, **extra):
    return deploy_vars(artifact, zerodown_surge=True, **extra)


def problems(variables, **kwargs):
    with pytest.raises(PlanError) as err:
        plan(variables, **kwargs)
    return err.value.problems


def test_surge_is_off_by_default_and_changes_nothing_then(artifact):
    out = plan(deploy_vars(artifact))
    assert "surge" not in out and "surge" not in out["lb"]
    assert out["batch_size"] == 1 and out["servers"]["app1"] == "app1"


def test_haproxy_hosts_keep_their_server_and_gain_one_for_the_second_slot(artifact):
    out = plan(surge_vars(artifact, zerodown_service_name="shop"), addresses={"app1": "10.0.0.11"})
    assert out["surge"]["slots"] == [{"name": "a", "port": 8080}, {"name": "b", "port": 8081}]
    assert out["lb"]["surge"]["servers"]["app1"] == {"a": "app1", "b": "app1_b"}
    assert out["lb"]["surge"]["slots"] == out["surge"]["slots"]
    # the home slot's server is the host's server of today: adoption adds one line per host, and the ledger and
    # the strategies without slots go on with the same map
    assert out["servers"] == {h: h for h in ("app1", "app2", "app3", "app4")}
    assert out["surge"]["unit"] == "shop@{slot}.service" and out["surge"]["port_env"] == "PORT"
    assert out["surge"]["standby"] == "keep"
    # default: every host starts its second instance at once (zerodown_batch_size is not read)
    assert out["batches"] == [["app1", "app2", "app3", "app4"]] and out["surge"]["batch_size"] == 4
    assert (
        "surge: slots a:8080 and b:8081 (PORT), unit shop@<slot>.service, 4 host(s) at a time, old slots kept until "
        "decommission" in out["summary"]
    )
    assert (
        "surge servers: app1 a=app1 b=app1_b | app2 a=app2 b=app2_b | app3 a=app3 b=app3_b | app4 a=app4 b=app4_b"
        in (out["summary"])
    )


def test_slots_ports_env_batch_and_explicit_servers_are_the_users_to_choose(artifact):
    variables = surge_vars(
        artifact,
        zerodown_surge_slots=[{"name": "blue", "port": 9000}, {"name": "green", "port": 9001}],
        zerodown_surge_port_env="HTTP_PORT",
        zerodown_surge_batch_size="50%",
        zerodown_batch_size=1,
        zerodown_standby="stop",
        zerodown_lb={"backend": "app", "servers": {"app1": "web1"}, "surge_servers": {"app2": {"green": "w2g"}}},
    )
    out = plan(variables)
    assert out["lb"]["surge"]["servers"]["app1"] == {"blue": "web1", "green": "web1_green"}
    assert out["lb"]["surge"]["servers"]["app2"] == {"blue": "app2", "green": "w2g"}
    assert out["batches"] == [["app1", "app2"], ["app3", "app4"]]
    assert out["surge"]["port_env"] == "HTTP_PORT" and out["surge"]["standby"] == "stop"
    assert "surge_servers" not in out["lb"]  # read by the plan, not a key of the modules' load_balancer option


def test_nginx_servers_are_each_hosts_address_on_each_slots_port(artifact):
    out = plan(
        surge_vars(artifact, zerodown_app_port=8000, zerodown_lb=NGINX),
        addresses={"app1": "10.0.0.11", "app2": "10.0.0.12"},
    )
    assert out["lb"]["surge"]["servers"]["app1"] == {"a": "10.0.0.11:8000", "b": "10.0.0.11:8001"}
    assert out["servers"]["app2"] == "10.0.0.12:8000"
    moved = plan(
        surge_vars(
            artifact, zerodown_lb=NGINX, zerodown_surge_slots=[{"name": "a", "port": 7000}, {"name": "b", "port": 7001}]
        ),
        addresses={"app1": "10.0.0.11"},
    )
    # the host's server is its home slot's, wherever that listens
    assert moved["servers"]["app1"] == "10.0.0.11:7000"


def test_surge_works_with_canary_and_is_refused_for_blue_green(artifact):
    canary = plan(surge_vars(artifact, zerodown_strategy="canary", zerodown_lb={"backend": "app"}))
    assert canary["surge"]["enabled"] and canary["canary"]["hosts"] == ["app1"]
    found = problems(
        surge_vars(artifact, zerodown_strategy="blue_green", zerodown_blue_group="blue", zerodown_green_group="green")
    )
    assert any("zerodown_surge is for zerodown_strategy rolling or canary, not blue_green" in p for p in found)


@pytest.mark.parametrize(
    "slots, message",
    [
        ("a,b", "zerodown_surge_slots='a,b' must be two slots as [{name: a, port: 8080}"),
        ([{"name": "a", "port": 8080}], "must be two slots"),
        ([{"name": "a", "port": 8080}, {"name": "a", "port": 8081}], "need different names and different ports"),
        ([{"name": "a", "port": 8080}, {"name": "b", "port": 8080}], "need different names and different ports"),
        ([{"name": "A;x", "port": 8080}, {"name": "b", "port": 8081}], "invalid zerodown_surge_slots[0].name 'A;x'"),
        ([{"name": "a", "port": 0}, {"name": "b", "port": 8081}], "zerodown_surge_slots[0].port"),
        ([{"name": "a", "port": 8080, "host": "x"}, {"name": "b", "port": 8081}], "unknown key(s) host"),
    ],
)
def test_bad_slots_are_refused_naming_the_value(artifact, slots, message):
    found = problems(surge_vars(artifact, zerodown_surge_slots=slots))
    assert any(message in p for p in found), found


def test_every_surge_problem_is_listed_together(artifact):
    found = problems(deploy_vars(artifact, zerodown_surge="maybe"))
    assert any("zerodown_surge='maybe' must be true or false" in p for p in found), found
    found = problems(
        surge_vars(
            artifact,
            zerodown_surge_port_env="MY-PORT",
            zerodown_standby="later",
            zerodown_surge_batch_size="0",
            zerodown_lb={
                "backend": "app",
                "surge_servers": {"db9": {"a": "x"}, "app1": {"c": "y", "b": "app2"}, "app3": {"b": "bad;name"}},
            },
        )
    )
    text = "\n".join(found)
    assert "invalid zerodown_surge_port_env 'MY-PORT'" in text
    assert "zerodown_standby='later' must be keep" in text
    assert "zerodown_surge_batch_size '0' must be 1 or more" in text
    assert "zerodown_lb.surge_servers names host(s) db9 that are not in the app hosts" in text
    assert "zerodown_lb.surge_servers[app1] names slot(s) c; the slots are a and b" in text
    assert "host app1 slot b and host app2 slot a are both server 'app2'" in text
    assert "host app3 slot b: invalid server name of host app3 slot b 'bad;name'" in text


def test_a_contract_run_ignores_surge(artifact):
    out = plan({"zerodown_app_name": "shop", "zerodown_release": "v2", "zerodown_surge": True}, mode="contract")
    assert "surge" not in out
