"""haproxy_log: httplog lines, and show stat's counts with each request's response time from HAProxy's log."""

from __future__ import annotations

import json
import os

import pytest
from zerodown_testkit.support.haproxy_counters import FakeRuntime

from ansible_collections.zerodown.deploy.plugins.module_utils._plan import PlanError, build_plan
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import counters as lb_counters
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import errors, haproxy_log, log_tail

# The configuration manual's example (8.2.3, "HTTP log format"), as rsyslog writes it.
MANUAL = (
    "Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in "
    'static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"'
)
# No server took it (a redirect answered by HAProxy): Tw, Tc and Tr are -1.
NOSRV = (
    "Jun 24 13:05:40 localhost haproxy[14839]: 115.236.160.82:55770 [24/Jun/2016:13:05:40.101] www "
    'www/<NOSRV> 116/-1/-1/-1/116 302 116 - - LR-- 0/0/0/0/0 0/0 "HEAD / HTTP/1.1"'
)
# option tcplog: 3 timers, no status
TCPLOG = (
    "Feb  6 12:12:56 localhost haproxy[14387]: 10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt "
    "app/srv1 0/0/5007 212 -- 0/0/0/0/3 0/0"
)


def request(server, tr, backend="app", status=200, frontend="fe", pid=4242, prefix=None):
    """One httplog line of a request to ``backend``/``server`` whose server response time is ``tr`` ms."""
    message = (
        '127.0.0.1:%d [07/Dec/2026:17:14:08.%03d] %s %s/%s 0/0/1/%d/%d %d 120 - - ---- 3/3/1/1/0 0/0 "GET / HTTP/1.1"'
        % (40000 + tr % 1000, tr % 1000, frontend, backend, server, tr, tr + 1, status)
    )
    head = "Dec  7 17:14:08 lb1 haproxy[%d]: " % pid if prefix is None else prefix
    return head + message + "\n"


def test_tr_of_a_documented_httplog_line_behind_any_syslog_prefix():
    assert haproxy_log.parse_line(MANUAL, "static") == ("srv1", 69.0)
    # as HAProxy sends it over UDP (RFC 3164: <PRI>, no host), as rsyslog writes it, and with no prefix at all
    message = MANUAL.split("]: ", 1)[1]
    for text in ("<134>Feb  6 12:14:14 haproxy[14389]: " + message, "haproxy[1]: " + message, message):
        assert haproxy_log.parse_line(text, "static") == ("srv1", 69.0)
    # an SSL frontend ends in ~
    ssl = MANUAL.replace(" http-in ", " http-in~ ")
    assert haproxy_log.parse_line(ssl, "static") == ("srv1", 69.0)
    # logasap: Ta is +total
    assert haproxy_log.parse_line(MANUAL.replace("/69/109 ", "/69/+109 "), "static") == ("srv1", 69.0)


def test_lines_that_are_no_request_of_the_backend_count_nowhere():
    assert haproxy_log.parse_line(MANUAL, "app") is None  # another backend
    assert haproxy_log.parse_line(NOSRV, "www") is None  # no server took it
    for admin in (
        "Dec  7 17:14:08 lb1 haproxy[4242]: Proxy fe started.",
        "Dec  7 17:14:08 lb1 haproxy[4242]: Server app/web1 is DOWN, reason: Layer4 connection problem, info: "
        '"Connection refused", check duration: 0ms. 2 active and 0 backup servers left.',
        "Dec  7 17:14:08 lb1 haproxy[4242]: Connect from 10.0.1.2:33312 to 10.0.3.31:8012 (www/HTTP)",
        "Dec  7 17:14:09 lb1 systemd[1]: Started haproxy.service.",
        "",
    ):
        assert haproxy_log.parse_line(admin, "app") is None


def test_no_response_is_no_response_time():
    text = request("web1", 5).replace("0/0/1/5/6 200", "0/0/-1/-1/2002 503")
    assert haproxy_log.parse_line(text, "app") == ("web1", None)


@pytest.mark.parametrize(
    "text, why",
    [
        (TCPLOG, "the timers after app/srv1 are '0/0/5007', expected 5 of them, TR/Tw/Tc/Tr/Ta"),
        (request("web1", 5).replace(" 200 ", " OK "), "the status after the timers is 'OK'"),
        (request("web1", 5).replace("0/0/1/5/6", "0/0/1/x/6"), "expected 5 of them"),
    ],
)
def test_a_request_of_the_backend_in_another_format_says_what_is_needed(text, why):
    with pytest.raises(ValueError, match=why):
        haproxy_log.parse_line(text, "app")


# -- the counter source --------------------------------------------------------------


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "haproxy.log"
    path.write_text("Dec  7 17:00:00 lb1 haproxy[4242]: Proxy fe started.\n")
    return path


def append(path, text):
    with open(path, "a") as handle:
        handle.write(text)


def source(log, runtime):
    return haproxy_log.HAProxyLogCounters({"lb1": runtime}, str(log))


def test_a_step_gives_show_stat_counts_and_the_response_time_of_each_request_logged_in_between(log):
    runtime = FakeRuntime()
    append(log, request("web1", 900) * 3)  # before the snapshot
    counters = source(log, runtime)
    since = counters.snapshot("app")
    assert since["log"] == {
        "path": str(log),
        "dev": os.stat(log).st_dev,
        "ino": os.stat(log).st_ino,
        "offset": os.path.getsize(log),
    }
    runtime.serve("web1", 3, latency_ms=10)
    runtime.serve("web2", 2, errors=1, latency_ms=30)
    append(log, request("web1", 8) + request("web2", 30) + request("web1", 12))
    append(log, request("web1", 700, backend="other"))  # another backend
    append(log, "Dec  7 17:14:09 lb1 haproxy[4242]: Server app/web3 is DOWN, reason: Layer4 timeout.\n")
    append(log, request("web2", 31, status=500) + request("web1", 10))
    append(log, request("web3", 1)[:-30])  # still being written: the next step's
    step = counters.step(since, counters.snapshot("app"))
    assert (step["web1"].requests, step["web2"].requests, step["web2"].errors) == (3, 2, 1)  # show stat's
    assert step["web1"].latency_values == [8.0, 12.0, 10.0]
    assert step["web2"].latency_values == [30.0, 31.0]
    assert step["web3"].latency_values == []
    assert step["web1"].latency_ms == pytest.approx(10, abs=1)  # the mean stays show stat's
    both = lb_counters.group(step, ["web1", "web2"])
    assert sorted(both.latency_values) == [8.0, 10.0, 12.0, 30.0, 31.0]


def test_without_the_log_nothing_changes(log):
    runtime = FakeRuntime()
    params = lb.resolve_params({"socket": ["lb1"], "backend": "app"})
    plain = lb.HAProxyProvider.counters(params, [lb.HAProxyProvider("lb1")])
    assert not isinstance(plain, haproxy_log.HAProxyLogCounters)
    plain.runtimes = {"lb1": runtime}
    since = plain.snapshot("app")
    assert "log" not in since
    runtime.serve("web1", 3)
    assert plain.step(since, plain.snapshot("app"))["web1"].latency_values == []
    with_log = lb.resolve_params({"load_balancer": {"socket": ["lb1"], "backend": "app", "haproxy": {"log": str(log)}}})
    counters = lb.HAProxyProvider.counters(with_log, [lb.HAProxyProvider("lb1")])
    assert isinstance(counters, haproxy_log.HAProxyLogCounters) and counters.path == str(log)


def test_check_round_trips_a_snapshot_through_json_and_names_what_is_wrong(log):
    runtime = FakeRuntime()
    counters = source(log, runtime)
    since = counters.snapshot("app")
    back = counters.check(json.loads(json.dumps(since)), "app")
    assert back == since
    digits = json.loads(json.dumps(since))
    digits["log"]["offset"] = str(since["log"]["offset"])
    assert counters.check(digits, "app")["log"]["offset"] == since["log"]["offset"]
    plain = dict(since)
    del plain["log"]
    with pytest.raises(errors.CanaryInputError, match="since was taken without haproxy.log"):
        counters.check(plain, "app")
    # and a snapshot with the log given back without it is still a HAProxy snapshot
    assert "log" not in lb_counters.HAProxyCounters({"lb1": runtime}).check(since, "app")
    moved = dict(since, log=dict(since["log"], path="/var/log/other.log"))
    with pytest.raises(errors.CanaryInputError, match="HAProxy log '/var/log/other.log', this call reads"):
        counters.check(moved, "app")
    bad = dict(since, log=dict(since["log"], offset=-3))
    with pytest.raises(errors.CanaryInputError, match="offset in the HAProxy log is -3, not a count"):
        counters.check(bad, "app")


def test_a_rotated_or_truncated_log_makes_the_step_unmeasurable(log):
    counters = source(log, FakeRuntime())
    since = counters.snapshot("app")
    append(log, request("web1", 5))
    os.rename(log, str(log) + ".1")  # logrotate, then rsyslog reopens a new file (HUP)
    append(log, request("web1", 6))
    with pytest.raises(errors.CounterResetError, match="HAProxy log .* is another file than at the snapshot"):
        counters.step(since, counters.snapshot("app"))
    since = counters.snapshot("app")
    with open(log, "w"):  # copytruncate
        pass
    with pytest.raises(errors.CounterResetError, match="is shorter than at the snapshot.*take a new snapshot"):
        counters.step(since, counters.snapshot("app"))


def test_a_request_of_the_backend_in_another_format_names_the_line_and_the_format(log):
    counters = source(log, FakeRuntime())
    since = counters.snapshot("app")
    append(log, request("web1", 5) + request("web1", 5, backend="other") + TCPLOG + "\n")
    # a snapshot reads the last line: it fails at once
    with pytest.raises(haproxy_log.HAProxyLogError, match="HAProxy log .*, the last line .* expected 5 of them"):
        counters.snapshot("app")
    append(log, request("web2", 5, backend="other"))
    with pytest.raises(haproxy_log.HAProxyLogError) as error:
        counters.step(since, counters.snapshot("app"))
    message = str(error.value)
    assert "HAProxy log %s, line 3 since the snapshot" % log in message
    assert "not in HAProxy's httplog format" in message and "option httplog" in message
    assert haproxy_log.HTTPLOG_FORMAT in message


def test_a_missing_log_says_how_to_configure_it(tmp_path):
    counters = haproxy_log.HAProxyLogCounters({"lb1": FakeRuntime()}, str(tmp_path / "gone.log"))
    with pytest.raises(haproxy_log.HAProxyLogError, match="cannot read the HAProxy log .*gone.log: No such file"):
        counters.snapshot("app")


def test_the_reference_has_the_response_times_logged_before_the_snapshot(log, monkeypatch):
    runtime = FakeRuntime()
    for name in ("web1", "web2", "web3"):
        runtime.serve(name, 100, latency_ms=20)
    append(log, request("web1", 19) * 50 + request("web3", 21) * 50 + request("web1", 5, backend="other"))
    counters = source(log, runtime)
    before = counters.snapshot("app", ["web1", "web2"])
    ref = counters.reference(before)
    assert ref.requests == 200 and ref.latency_values == [19.0] * 50  # web3 is not in the snapshot
    # only the log's last REFERENCE_BYTES, whole lines
    monkeypatch.setattr(log_tail, "REFERENCE_BYTES", 3 * len(request("web1", 19)) + 5)
    again = source(log, runtime)
    assert source(log, runtime).reference(before).latency_values == []  # web3 and other wrote the last lines
    append(log, request("web2", 7) * 4)
    assert again.reference(again.snapshot("app", ["web1", "web2"])).latency_values == [7.0] * 3


def test_the_core_and_the_plan_take_haproxy_log(tmp_path):
    with pytest.raises(lb.LBValidationError, match="haproxy.log=/var/log/haproxy.log is HAProxy's log"):
        lb.resolve_params(
            {"provider": "nginx", "nginx": {"conf": "/c"}, "backend": "app", "haproxy": {"log": "/var/log/haproxy.log"}}
        )
    artifact = tmp_path / "shop.tar.gz"
    artifact.write_bytes(b"x")

    def plan(zerodown_lb):
        variables = {
            "zerodown_app_name": "shop",
            "zerodown_release": "v2",
            "zerodown_artifact": str(artifact),
            "zerodown_exec_start": "bin/start",
            "zerodown_strategy": "canary",
            "zerodown_lb": zerodown_lb,
        }
        identity = {"run_id": "r-1", "owner": "ops", "controller": "ctl"}
        return build_plan(variables, "deploy", ["app1", "app2"], ["lb1"], [], {}, identity, lambda p: "0" * 64)

    out = plan({"backend": "app", "haproxy": {"log": "/var/log/haproxy.log"}})
    assert out["lb"]["haproxy"] == {"log": "/var/log/haproxy.log"}
    assert "haproxy" not in plan({"backend": "app"})["lb"]
    for given, problem in (
        ({"log": "haproxy.log"}, "zerodown_lb.haproxy.log='haproxy.log' must be an absolute path"),
        (
            {"file": "/var/log/haproxy.log"},
            "zerodown_lb.haproxy={'file': '/var/log/haproxy.log'} must be a dict with log",
        ),
        ("/var/log/haproxy.log", "must be a dict with log"),
    ):
        with pytest.raises(PlanError, match=problem.replace("(", r"\(").replace("{", r"\{").replace("[", r"\[")):
            plan({"backend": "app", "haproxy": given})
    nginx = {"provider": "nginx", "backend": "app", "nginx": {"conf": "/c", "servers_file": "/s", "access_log": "/l"}}
    with pytest.raises(PlanError, match="zerodown_lb.haproxy is for provider haproxy"):
        plan(dict(nginx, haproxy={"log": "/var/log/haproxy.log"}))


# -- many lines ------------------------------------------------------------------------


def test_a_long_step_keeps_every_count_and_at_most_max_latency_values_response_times(log, monkeypatch):
    # 50,000 a group in the collection; a smaller cap here keeps the test quick (the same code either way)
    monkeypatch.setattr(lb_counters, "MAX_LATENCY_VALUES", 200)
    monkeypatch.setattr(log_tail, "MAX_LATENCY_VALUES", 200)
    runtime = FakeRuntime()
    counters = source(log, runtime)
    since = counters.snapshot("app")
    lines = 600
    append(log, "".join(request("web1", i % 50) for i in range(lines)))
    runtime.serve("web1", lines)
    step = counters.step(since, counters.snapshot("app"))["web1"]
    assert step.requests == lines
    assert len(step.latency_values) == 200
    assert step.latency_values[:3] == [0.0, 1.0, 2.0]  # the step's first ones
    # groups add up to the cap too
    assert len(lb_counters.group({"a": step, "b": step}, ["a", "b"]).latency_values) == 200
