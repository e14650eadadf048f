"""The canary strategy on the test fleet under load (the tests build on each other, in file order).

After converge: app1 was the canary at 10, 50 and 100 % of the requests, each step judged from HAProxy's own
counters, then the rest followed one host per batch: every host runs v2.
"""

from __future__ import annotations

import json

from zerodown_testkit.e2e.verifier import assert_tally_matches_the_load, current_on, lb_states, measured_steps, tally

APPS = ["app1", "app2", "app3", "app4"]
LEDGER = "/var/lib/zerodown/demoapp/ledger.json"


def deploy(run, inventory, facts, extra=None, saturate=False):
    args = ["-e", json.dumps(extra)] if extra else []
    with run.under_load(
        facts["fleet_lb_url"], facts["fleet_haproxy_admin"], facts["fleet_haproxy_backend"], saturate=saturate
    ) as load:
        result = run.playbook("deploy", [inventory], args=args)
    return result, load.report


def assert_clean(report):
    assert report.requests > 0
    assert report.failed == 0, report.failures[:5]
    assert report.haproxy_delta_totals["wretr"] == 0 and report.haproxy_delta_totals["wredis"] == 0, (
        report.haproxy_delta_totals
    )


def test_every_host_runs_v2_and_every_step_was_judged(host):
    assert [current_on(host, h) for h in APPS] == ["v2"] * 4
    ledger = json.loads(host("lb1").file(LEDGER).content_string)
    assert ledger["outcome"] == "succeeded"
    # converge deployed without load: the load balancer counted no failed request (whatever else passed through)
    assert tally(ledger)["measured"] is True and tally(ledger)["total"]["failed"] == 0, tally(ledger)
    steps = measured_steps(ledger)
    assert [s["percent"] for s in steps] == [10, 50, 100]
    for step in steps:
        assert step["verdict"] == "pass", step
        assert step["canary"]["requests"] >= 20 and "tests" in step and "latency_ratio" in step


def test_a_canary_answering_5xx_aborts_at_the_first_step_and_goes_back(run, inventory, facts, host):
    """v2-errors-27 fails 27 % of its requests: out of traffic within 2 looks after it had min_requests."""
    backend = facts["fleet_haproxy_backend"]
    before = lb_states(host, backend)
    result, report = deploy(run, inventory, facts, {"zerodown_release": "v2-errors-27"}, saturate=True)
    assert not result.ok and "failed and was rolled back" in result.output
    assert "canary step fail" in result.output
    assert [current_on(host, h) for h in APPS] == ["v2"] * 4
    assert lb_states(host, backend) == before
    ledger = json.loads(host("lb1").file(LEDGER).content_string)
    assert ledger["outcome"] == "rolled_back" and "canary step fail" in ledger["cause"]
    assert [s["percent"] for s in measured_steps(ledger)] == [10], "aborted at the first step"
    step = measured_steps(ledger)[0]
    assert step["verdict"] == "fail" and step["canary"]["errors"] > 0
    # judged at every look: the verdict came at the first look with min_requests canary requests or the next one
    assert 1 <= step["enough_at"] <= step["looked"] <= step["enough_at"] + 1, step
    assert step["stopped_early"] is True, step
    # the only failed requests are the canary's own 5xx answers during its step, bounded by its 10 % share; the
    # analysis takes the canary out in the same call as its verdict and counts what it served until then
    # (until_out), and the rescue keeps it out, so the failures the clients saw are the ones the ledger counted
    assert report.failed > 0
    assert all(f["status"] == 500 for f in report.failures), report.failures[:5]
    assert report.failed <= 0.10 * report.requests, (report.failed, report.requests, step["canary"])
    assert step["taken_out"] == ["/run/haproxy/admin.sock"]
    out = step["until_out"]
    assert out["errors"] - 5 <= report.failed <= out["errors"], (report.failed, out, step["canary"])
    print(
        "canary 27 %% errors: %d failed requests seen, %d counted until the canary was out (%d at the verdict, "
        "%d canary requests); verdict at look %d, min_requests reached at look %d"
        % (
            report.failed,
            out["errors"],
            step["canary"]["errors"],
            step["canary"]["requests"],
            step["looked"],
            step["enough_at"],
        )
    )
    assert report.haproxy_delta_totals["wretr"] == 0 and report.haproxy_delta_totals["wredis"] == 0
    assert_tally_matches_the_load(result, ledger, report)


def test_a_canary_failing_at_its_full_step_goes_back_with_no_connection_error(run, inventory, facts, host):
    """A step at 100 %: the baseline has weight 0 while the canary is judged. The rescue gives the baseline its
    weights back and takes the canary out in one call (the rollback's hold), so the only failed requests are the
    canary's own 5xx answers until then - no request meets a server that is going away (no 502/503, no retry or
    redispatch)."""
    backend = facts["fleet_haproxy_backend"]
    before = lb_states(host, backend)
    result, report = deploy(run, inventory, facts, {"zerodown_release": "v2-5xx", "zerodown_canary_steps": [100]})
    assert not result.ok and "canary step fail" in result.output, result.output[-3000:]
    assert [current_on(host, h) for h in APPS] == ["v2"] * 4
    assert lb_states(host, backend) == before
    ledger = json.loads(host("lb1").file(LEDGER).content_string)
    assert [(s["percent"], s["verdict"]) for s in measured_steps(ledger)] == [(100, "fail")]
    # with the baseline at weight 0 the analysis cannot take the canary out alone; the rescue's first call does
    assert "taken_out" not in measured_steps(ledger)[0], measured_steps(ledger)[0]
    assert report.failed > 0 and all(f["status"] == 500 for f in report.failures), report.failures[:5]
    assert report.haproxy_delta_totals["wretr"] == 0 and report.haproxy_delta_totals["wredis"] == 0


def test_too_little_traffic_is_inconclusive_and_never_promoted(run, inventory, facts, host):
    backend = facts["fleet_haproxy_backend"]
    before = lb_states(host, backend)
    result, report = deploy(
        run,
        inventory,
        facts,
        {
            "zerodown_release": "v2-slow-stop",
            "zerodown_canary_min_requests": 1000000,
            "zerodown_canary_on_inconclusive": "fail",
        },
    )
    assert not result.ok and "canary step inconclusive" in result.output
    assert_clean(report)
    assert [current_on(host, h) for h in APPS] == ["v2"] * 4
    assert lb_states(host, backend) == before
    ledger = json.loads(host("lb1").file(LEDGER).content_string)
    assert measured_steps(ledger)[-1]["verdict"] == "inconclusive"
    assert_tally_matches_the_load(result, ledger, report)  # a clean rollback: 0 failed, as the load saw


def test_check_mode_prints_the_canary_plan_and_changes_nothing(run, inventory, facts, host):
    backend = facts["fleet_haproxy_backend"]
    before = lb_states(host, backend), [current_on(host, h) for h in APPS]
    result = run.playbook(
        "deploy", [inventory], args=["--check", "-e", json.dumps({"zerodown_release": "v2-slow-stop"})]
    )
    assert result.ok, result.output[-3000:]
    assert "canary hosts app1, steps 10/50/100 % of requests" in result.output
    assert "3 batch(es) of up to 1: app2 | app3 | app4" in result.output
    assert (lb_states(host, backend), [current_on(host, h) for h in APPS]) == before
