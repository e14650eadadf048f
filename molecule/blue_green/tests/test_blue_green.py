"""The blue-green strategy on the test fleet under load (the tests build on each other, in file order).

After converge: v1 was bootstrapped on all four hosts, so both colours served one release and the first deploy
adopted them - blue (app1, app2) stayed live on v1 and v2 went to green, which now serves alone; blue is on
standby, drained. Every deploy below runs under load: zero failed requests and zero HAProxy retries/redispatches.
"""

from __future__ import annotations

import json

from zerodown_testkit.e2e.verifier import assert_tally_matches_the_load, current_on, lb_states

BLUE, GREEN = ["app1", "app2"], ["app3", "app4"]
LEDGER = "/var/lib/zerodown/demoapp/ledger.json"


def serving(states):
    return sorted(s for s, (admin, _op, weight) in states.items() if admin == "0" and weight != "0")


def set_state(host, backend, servers, state):
    for server in servers:
        out = host("lb1").run(
            "echo 'set server %s/%s state %s' | socat stdio /run/haproxy/admin.sock", backend, server, state
        )
        assert out.rc == 0 and not out.stdout.strip(), out.stdout + out.stderr


def deploy(run, inventory, facts, release=None, playbook="deploy", saturate=False):
    args = ["-e", json.dumps({"zerodown_release": release})] if release else []
    with run.under_load(
        facts["fleet_lb_url"], facts["fleet_haproxy_admin"], facts["fleet_haproxy_backend"], saturate=saturate
    ) as load:
        result = run.playbook(playbook, [inventory], args=args)
    report = load.report
    assert report.requests > 0
    assert report.failed == 0, report.failures[:5]
    assert report.haproxy_delta_totals["wretr"] == 0 and report.haproxy_delta_totals["wredis"] == 0, (
        report.haproxy_delta_totals
    )
    return result


def test_the_first_deploy_adopted_the_fleet_and_green_serves_v2(host, facts):
    states = lb_states(host, facts["fleet_haproxy_backend"])
    assert serving(states) == GREEN
    assert all(states[s][0] == "8" for s in BLUE), states  # drain: on standby, an instant rollback away
    assert [current_on(host, h) for h in GREEN] == ["v2", "v2"]
    assert [current_on(host, h) for h in BLUE] == ["v1", "v1"]
    assert all(host(h).service("demoapp").is_running for h in BLUE + GREEN)
    ledger = json.loads(host("lb1").file(LEDGER).content_string)
    assert ledger["outcome"] == "succeeded" and sorted(ledger["hosts"]) == GREEN


def test_a_release_failing_its_smoke_test_leaves_traffic_on_the_live_colour(run, inventory, facts, host):
    backend = facts["fleet_haproxy_backend"]
    before = lb_states(host, backend)
    result = deploy(run, inventory, facts, "v2-smoke-fail", saturate=True)
    assert not result.ok and "failed and was rolled back" in result.output and "smoke" in result.output
    assert lb_states(host, backend) == before
    assert [current_on(host, h) for h in BLUE] == ["v1", "v1"]
    assert [current_on(host, h) for h in GREEN] == ["v2", "v2"]


def test_a_release_going_bad_after_its_smoke_test_is_rolled_back_within_the_bake_window(run, inventory, facts, host):
    """v2-late-5xx passes readiness and the smoke test, then answers half its requests with 5xx 20 s later."""
    backend = facts["fleet_haproxy_backend"]
    before = lb_states(host, backend)
    args = ["-e", json.dumps({"zerodown_release": "v2-late-5xx", "zerodown_bake_time": 90})]
    with run.under_load(facts["fleet_lb_url"], facts["fleet_haproxy_admin"], facts["fleet_haproxy_backend"]) as load:
        result = run.playbook("deploy", [inventory], args=args)
    report = load.report
    assert not result.ok and "failed and was rolled back" in result.output
    assert "bake window fail: new release error rate" in result.output
    assert lb_states(host, backend) == before, "traffic back on green, every server as before"
    assert serving(lb_states(host, backend)) == GREEN
    ledger = json.loads(host("lb1").file(LEDGER).content_string)
    assert ledger["outcome"] == "rolled_back" and "bake window fail" in ledger["cause"]
    bake = [s for s in ledger["steps"] if s.get("name") == "bake"]
    assert len(bake) == 1 and bake[0]["verdict"] == "fail", ledger["steps"]
    assert bake[0]["canary_servers"] == ["app1", "app2"] and bake[0]["canary"]["errors"] > 0
    assert bake[0]["looked"] < bake[0]["looks"] == 90, "stopped at the first failing look, not at the window's end"
    # The failed requests are blue's own 5xx from the moment it went bad until the switch back: seconds, not the
    # 90 s window.
    assert report.failed > 0 and all(f["status"] == 500 for f in report.failures), report.failures[:5]
    span = max(f["at"] for f in report.failures) - min(f["at"] for f in report.failures)
    assert span < 20, (span, report.failed, bake[0]["canary"])
    assert report.haproxy_delta_totals["wretr"] == 0 and report.haproxy_delta_totals["wredis"] == 0
    # the smoke test's two checks (one round each) passed through the load balancer before the bake window
    assert_tally_matches_the_load(result, ledger, report, other_requests=2)
    print("bake: %d failed of %d requests over %.1f s; %s" % (report.failed, report.requests, span, bake[0]["reason"]))


def test_a_second_deploy_goes_the_other_way(run, inventory, facts, host):
    backend = facts["fleet_haproxy_backend"]
    result = deploy(run, inventory, facts, "v2-slow-stop")
    assert result.ok, result.output[-3000:]
    assert serving(lb_states(host, backend)) == BLUE
    assert [current_on(host, h) for h in BLUE] == ["v2-slow-stop"] * 2
    assert [current_on(host, h) for h in GREEN] == ["v2", "v2"]


def test_both_colours_live_on_different_releases_is_refused_before_any_change(run, inventory, facts, host):
    backend = facts["fleet_haproxy_backend"]
    set_state(host, backend, ["app3", "app4"], "ready")
    before = lb_states(host, backend)
    try:
        result = deploy(run, inventory, facts, "v1")
        assert not result.ok
        assert "both colours are live on different releases" in result.output
        assert "blue runs v2-slow-stop, green runs v2" in result.output
        assert lb_states(host, backend) == before
        assert [current_on(host, h) for h in BLUE + GREEN] == ["v2-slow-stop"] * 2 + ["v2"] * 2
        assert not host("lb1").file("/var/lib/zerodown/demoapp/deploy.lock").exists
    finally:
        set_state(host, backend, ["app3", "app4"], "drain")


def test_rollback_on_demand_is_one_switch_back(run, inventory, facts, host):
    backend = facts["fleet_haproxy_backend"]
    result = deploy(run, inventory, facts, playbook="rollback", saturate=True)
    assert result.ok, result.output[-3000:]
    assert serving(lb_states(host, backend)) == GREEN
    assert [current_on(host, h) for h in BLUE] == ["v1", "v1"]
    ledger = json.loads(host("lb1").file(LEDGER).content_string)
    assert ledger["outcome"] == "rolled_back"


def test_check_mode_prints_the_plan_with_the_live_colour_and_changes_nothing(run, inventory, facts, host):
    backend = facts["fleet_haproxy_backend"]
    before = lb_states(host, backend), [current_on(host, h) for h in BLUE + GREEN]
    result = run.playbook(
        "deploy", [inventory], args=["--check", "-e", json.dumps({"zerodown_release": "v2-slow-stop"})]
    )
    assert result.ok, result.output[-3000:]
    assert "colours: blue = app1, app2; green = app3, app4" in result.output
    assert "green is live" in result.output and "v2-slow-stop goes to blue" in result.output
    assert (lb_states(host, backend), [current_on(host, h) for h in BLUE + GREEN]) == before
