"""The deploy's tally: the failed requests the load balancer counted from the snapshot before the deploy to its end,
per server and in total, and the reason instead of a failure when it cannot count."""

from __future__ import annotations

from zerodown_testkit.support.haproxy_counters import FakeRuntime

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import counters, tally
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.core import HAProxyProvider, NginxProvider
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import HAProxyError

ZERO = dict.fromkeys(tally.TALLY_KEYS, 0)


def before_the_deploy(**runtimes):
    """Load balancers that served traffic before the deploy, and the snapshot the preflight takes of them."""
    for runtime in runtimes.values():
        for name in runtime.counters:
            runtime.serve(name, 1000, errors=3, econ=1, retries=2)  # history: none of it is the deploy's
    return counters.take_snapshot(runtimes, "app", now=lambda: 100.0)


def count(runtimes, before):
    return tally.tally(lambda: counters.HAProxyCounters(runtimes), "app", before)


def test_the_deltas_per_server_and_in_total_with_retries_and_redispatches():
    lb1 = FakeRuntime()
    before = before_the_deploy(lb1=lb1)
    lb1.serve("web1", 400, errors=4, econ=2, eresp=1, retries=3, redispatches=1)
    lb1.serve("web2", 300)
    result = count({"lb1": lb1}, before)
    assert result["measured"] is True and result["reason"] is None
    assert result["servers"]["web1"] == {
        "requests": 400,
        "failed": 7,
        "http_5xx": 4,
        "connection_errors": 2,
        "response_errors": 1,
        "retries": 3,
        "redispatches": 1,
    }
    assert result["servers"]["web2"] == dict(ZERO, requests=300)
    assert result["servers"]["web3"] == ZERO
    assert result["total"] == {
        "requests": 700,
        "failed": 7,
        "http_5xx": 4,
        "connection_errors": 2,
        "response_errors": 1,
        "retries": 3,
        "redispatches": 1,
    }
    assert result["seconds"] is not None and result["seconds"] >= 0


def test_two_load_balancers_add_up():
    lb1, lb2 = FakeRuntime(), FakeRuntime(pid=200)
    before = before_the_deploy(lb1=lb1, lb2=lb2)
    lb1.serve("web1", 10, errors=1)
    lb2.serve("web1", 20, errors=2)
    result = count({"lb1": lb1, "lb2": lb2}, before)
    assert result["servers"]["web1"]["requests"] == 30 and result["total"]["failed"] == 3


def test_a_clean_deploy_counts_zero_failed():
    lb1 = FakeRuntime()
    before = before_the_deploy(lb1=lb1)
    for name in ("web1", "web2", "web3"):
        lb1.serve(name, 500)
    result = count({"lb1": lb1}, before)
    assert result["total"] == dict(ZERO, requests=1500)


def test_a_haproxy_reloaded_during_the_deploy_is_not_measured_with_the_reason():
    lb1 = FakeRuntime()
    before = before_the_deploy(lb1=lb1)
    lb1.pid = 101  # a new process: its counters started again from zero
    result = count({"lb1": lb1}, before)
    assert result["measured"] is False and result["total"] is None and result["servers"] == {}
    assert "reloaded or restarted" in result["reason"], result["reason"]


def test_counters_that_went_back_are_not_measured():
    lb1 = FakeRuntime()
    before = before_the_deploy(lb1=lb1)
    lb1.counters["web2"]["stot"] = 0  # clear counters
    result = count({"lb1": lb1}, before)
    assert result["measured"] is False and "counters went back" in result["reason"]


def test_an_unreachable_load_balancer_at_the_end_is_a_reason_not_a_failure():
    lb1 = FakeRuntime()
    before = before_the_deploy(lb1=lb1)

    def refuse(backend=None):
        raise HAProxyError("haproxy at lb1: connection refused")

    lb1.show_stat = refuse
    result = count({"lb1": lb1}, before)
    assert result["measured"] is False and "connection refused" in result["reason"]


def test_no_snapshot_before_the_deploy_says_so():
    result = tally.tally(lambda: counters.HAProxyCounters({}), "app", {})
    assert result == {"measured": False, "reason": tally.NO_SNAPSHOT, "total": None, "servers": {}, "seconds": None}


def test_nginx_without_an_access_log_says_how_to_enable_it():
    lb_params = {"provider": "nginx", "nginx": {"conf": "/etc/nginx/nginx.conf", "servers_file": "/x"}}
    problem = NginxProvider.counters_problem(lb_params)
    assert HAProxyProvider.counters_problem({"provider": "haproxy"}) is None

    def never():
        raise AssertionError("no counter source is built without counters")

    result = tally.tally(never, "app", {"version": 1}, problem)
    assert result["measured"] is False and "set nginx.access_log" in result["reason"], result


def test_an_old_snapshot_without_retries_counts_them_from_zero():
    lb1 = FakeRuntime()
    before = before_the_deploy(lb1=lb1)
    for entry in before["load_balancers"].values():
        for fields in entry["servers"].values():
            del fields["wretr"], fields["wredis"]
    lb1.serve("web1", 10, retries=1)
    result = count({"lb1": lb1}, before)
    assert result["measured"] is True
    # the snapshot had none: the retries since HAProxy started (2 before the deploy, 1 during it) count
    assert result["servers"]["web1"]["retries"] == 3 and result["servers"]["web1"]["requests"] == 10
