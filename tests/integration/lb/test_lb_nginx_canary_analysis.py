"""canary_analysis against a real nginx writing its access log, with real backends, one of them a bad canary."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import urllib.error
import urllib.request
from pathlib import Path

from zerodown_testkit.support import canary_checks as checks
from zerodown_testkit.support.lbharness import NginxInstance, canary_backends
from zerodown_testkit.support.loadgen import LoadGenerator

from ansible_collections.zerodown.deploy.plugins.module_utils._wait import wait_until
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb

BASELINE = ["web1", "web2"]
CANARY = "canary"


@contextlib.contextmanager
def canary_fleet(tmp_path, share: int = 25, **canary_behaviour):
    """nginx over two real baseline backends and one canary, with the weights that give the canary ``share`` %."""
    with canary_backends(BASELINE, CANARY, **canary_behaviour) as backends:
        nginx = NginxInstance(tmp_path / "nginx", backends, weights=lb.canary_weights([CANARY], BASELINE, share))
        nginx.backends = backends  # a test may stop one
        try:
            yield nginx
        finally:
            nginx.stop()


def _args(nginx, **extra):
    return dict(nginx.module_args, **extra)


def _servers(nginx, names):
    return [nginx.addresses[name] for name in names]


def _lines(nginx) -> int:
    with open(nginx.access_log, "rb") as handle:
        return handle.read().count(b"\n")


def _get(nginx):
    """One request: (X-App-Version, status)."""
    try:
        with urllib.request.urlopen(nginx.url + "/", timeout=10) as resp:
            return resp.headers["X-App-Version"], resp.status
    except urllib.error.HTTPError as exc:
        return exc.headers["X-App-Version"], exc.code


def _send(nginx, count):
    """``count`` requests one after the other; (version, status) -> how many, once nginx has logged them all."""
    logged = _lines(nginx)
    seen = collections.Counter(_get(nginx) for _index in range(count))
    # nginx logs a request just after its answer has gone: wait for the last lines
    wait_until(lambda: _lines(nginx) >= logged + count, timeout=10, interval=0.02)
    return seen


def test_5xx_canary_fails_with_exactly_the_requests_nginx_logged(tmp_path, module_runner):
    with canary_fleet(tmp_path, share=25, error_every=10) as nginx:
        _send(nginx, 20)  # before the step: not counted
        servers_before = Path(nginx.servers_file).read_text()
        master = nginx.proc.pid
        snap = module_runner("canary_analysis", _args(nginx, state="snapshot"))
        assert not snap["failed"] and snap["changed"] is False, snap
        entry = snap["snapshot"]["load_balancers"][nginx.servers_file]
        assert snap["snapshot"]["source"] == "nginx_access_log"
        assert entry["offset"] == os.path.getsize(nginx.access_log)
        assert sorted(entry["servers"]) == sorted(nginx.addresses.values())
        seen = _send(nginx, 400)
        analyze = _args(nginx, canary_servers=_servers(nginx, [CANARY]), since=snap["snapshot"], min_requests=50)
        checked = module_runner("canary_analysis", analyze, check=True)
        result = module_runner("canary_analysis", analyze)
        assert Path(nginx.servers_file).read_text() == servers_before and nginx.proc.poll() is None
        assert nginx.proc.pid == master  # it only reads
    print(result["reason"], result["canary"], result["baseline"], seen)
    canary_requests = seen[CANARY, 200] + seen[CANARY, 500]
    assert 70 <= canary_requests <= 130  # a 25 % share of 400
    for run in (checked, result):
        assert not run["failed"] and run["changed"] is False, run
        assert run["verdict"] == "fail", run["reason"]
        assert run["baseline_servers"] == sorted(_servers(nginx, BASELINE))
        # exactly what the client saw: the log is per request, not a sample
        assert run["canary"]["requests"] == canary_requests and run["canary"]["http_5xx"] == seen[CANARY, 500]
        assert run["canary"]["errors"] == seen[CANARY, 500] >= 7
        assert run["baseline"]["requests"] == 400 - canary_requests and run["baseline"]["errors"] == 0
        assert run["tests"]["error_rate_vs_baseline"]["significant"] is True
        assert "above the baseline's 0.00 %" in run["reason"] and "Fisher exact p=" in run["reason"]
        assert run["canary"]["latency_ms"] is not None and run["baseline"]["latency_ms"] is not None
    assert checked["canary"] == result["canary"]
    assert checked["snapshot"]["load_balancers"] == result["snapshot"]["load_balancers"]  # nothing logged between
    assert (
        result["servers"][nginx.addresses["web1"]]["requests"] + result["servers"][nginx.addresses["web2"]]["requests"]
        == 400 - canary_requests
    )


def test_healthy_canary_under_load_passes_and_chains_steps(tmp_path, module_runner):
    with canary_fleet(tmp_path, share=25) as nginx:
        load = LoadGenerator(nginx.url + "/", concurrency=3, max_duration=120, timeout=30, pause=0.005)
        with load:
            checks.wait_requests(load, 30)
            args = _args(nginx, canary_servers=_servers(nginx, [CANARY]), baseline_servers=_servers(nginx, BASELINE))
            steps = checks.healthy_steps_pass(module_runner, args, load, pause=3, more=300)
            offsets = [s["snapshot"]["load_balancers"][nginx.servers_file]["offset"] for s in steps]
            assert offsets[0] < offsets[1] <= os.path.getsize(nginx.access_log)
    assert load.report.failed == 0, load.report.failures[:5]


def test_slow_canary_fails_on_its_exact_mean_response_time(tmp_path, module_runner):
    with canary_fleet(tmp_path, share=25, delay=0.04) as nginx:
        snap = module_runner("canary_analysis", _args(nginx, state="snapshot"))
        _send(nginx, 200)
        result = module_runner(
            "canary_analysis",
            _args(
                nginx,
                canary_servers=_servers(nginx, [CANARY]),
                since=snap["snapshot"],
                min_requests=30,
                min_latency_increase_ms=checks.SLOW_INCREASE_MS,
            ),
        )
    # the mean of every request's $upstream_response_time: the canary sleeps 40 ms per request
    checks.slow_canary_fails(result, 40, 70)


def test_too_little_traffic_is_inconclusive(tmp_path, module_runner):
    with canary_fleet(tmp_path, share=50) as nginx:
        wanted = _servers(nginx, [CANARY, "web1"])
        snap = module_runner("canary_analysis", _args(nginx, state="snapshot", servers=wanted), check=True)
        assert sorted(snap["snapshot"]["load_balancers"][nginx.servers_file]["servers"]) == sorted(wanted)
        seen = _send(nginx, 6)
        result = module_runner(
            "canary_analysis",
            _args(
                nginx,
                canary_servers=_servers(nginx, [CANARY]),
                baseline_servers=_servers(nginx, ["web1"]),
                since=snap["snapshot"],
                min_requests=50,
                max_wait=1,
                poll_interval=0.2,
            ),
        )
    checks.inconclusive(result, most=6)
    assert result["canary"]["requests"] == seen[CANARY, 200]


def test_a_stopped_canary_counts_connection_errors(tmp_path, module_runner):
    with canary_fleet(tmp_path, share=50) as nginx:
        snap = module_runner("canary_analysis", _args(nginx, state="snapshot"))
        nginx.backends[CANARY].stop()
        # nginx answers 502 itself when it cannot connect (proxy_next_upstream off: no retry on another server)
        seen = _send(nginx, 40)
        result = module_runner(
            "canary_analysis",
            _args(nginx, canary_servers=_servers(nginx, [CANARY]), since=snap["snapshot"], min_requests=1),
        )
    print(result["reason"], result["canary"], seen)
    assert result["verdict"] == "fail", result["reason"]
    assert result["canary"]["connection_errors"] == result["canary"]["requests"] == seen[None, 502] >= 1
    assert result["canary"]["http_5xx"] == 0 and result["canary"]["response_errors"] == 0
    assert result["baseline"]["errors"] == 0 and result["baseline"]["requests"] == 40 - seen[None, 502]


def test_a_rotated_or_truncated_log_fails_the_step_clearly(tmp_path, module_runner):
    with canary_fleet(tmp_path, share=25) as nginx:
        args = _args(nginx, canary_servers=_servers(nginx, [CANARY]), min_requests=1)
        snap = module_runner("canary_analysis", _args(nginx, state="snapshot"))["snapshot"]
        _send(nginx, 10)
        # rotated: renamed, then nginx opens the log anew (logrotate sends USR1, which makes the workers reopen it;
        # here they run as nobody under a private directory and cannot, so a reload has the master open it)
        os.rename(nginx.access_log, nginx.access_log + ".1")
        os.kill(nginx.proc.pid, signal.SIGHUP)
        reopened = Path(nginx.access_log)
        wait_until(lambda: _get(nginx) and reopened.exists() and reopened.stat().st_size, timeout=10, interval=0.05)
        rotated = module_runner("canary_analysis", dict(args, since=snap))
        assert rotated["failed"] is True, rotated
        assert "is another file than at the snapshot" in rotated["msg"]
        assert "rotated or truncated during the step" in rotated["msg"] and "take a new snapshot" in rotated["msg"]
        # the next step, from a new snapshot, is measured again
        fresh = module_runner("canary_analysis", _args(nginx, state="snapshot"))["snapshot"]
        seen = _send(nginx, 20)
        again = module_runner("canary_analysis", dict(args, since=fresh))
        assert not again["failed"] and again["canary"]["requests"] == seen[CANARY, 200], again
        # copytruncate: the same file, emptied under the step
        _send(nginx, 5)
        os.truncate(nginx.access_log, 0)
        _send(nginx, 2)
        truncated = module_runner("canary_analysis", dict(args, since=again["snapshot"]))
        assert truncated["failed"] is True and "is shorter than at the snapshot" in truncated["msg"]


def test_a_log_in_another_format_or_none_is_a_clear_error(tmp_path, module_runner):
    with canary_fleet(tmp_path, share=25) as nginx:
        _send(nginx, 2)
        error_log = str(Path(nginx.access_log).with_name("error.log"))  # nginx's own lines, another format
        wrong = dict(nginx.module_args["nginx"], access_log=error_log)
        result = module_runner("canary_analysis", dict(nginx.module_args, state="snapshot", nginx=wrong))
        assert result["failed"] is True
        assert "nginx access log %s, the last line (byte offset" % error_log in result["msg"]
        assert "is not in log_format zerodown" in result["msg"] and "$upstream_header_time" in result["msg"]
        assert "Traceback" not in result["msg"]
        none = dict(nginx.module_args["nginx"])
        del none["access_log"]
        result = module_runner("canary_analysis", dict(nginx.module_args, state="snapshot", nginx=none))
        assert result["failed"] is True and "set nginx.access_log" in result["msg"]
        result = module_runner("canary_analysis", _args(nginx, state="snapshot", servers=["127.0.0.1:1"]))
        assert result["failed"] is True and "has no server '127.0.0.1:1'" in result["msg"]


def test_bake_through_nginx_judges_the_new_release_against_the_log_before_the_deploy(tmp_path, module_runner):
    """The reference is the log's lines before the snapshot; a release answering 1 in 2 with 500 fails at once."""
    with canary_fleet(tmp_path, share=50, error_every=2) as nginx:
        # before the deploy: only the baseline serves, cleanly
        with open(nginx.servers_file) as handle:
            servers = handle.read()
        baseline_only = module_runner(
            "switch_traffic", _args(nginx, servers={_servers(nginx, [CANARY])[0]: {"state": "maint"}})
        )
        assert not baseline_only["failed"], baseline_only
        assert sum(n for (version, status), n in _send(nginx, 200).items() if status == 200) == 200
        before = module_runner("canary_analysis", _args(nginx, state="snapshot"))
        assert not before["failed"], before
        # the switch: the new release alone; its answers go bad from the first
        switched = module_runner(
            "switch_traffic",
            _args(
                nginx,
                servers={
                    _servers(nginx, [CANARY])[0]: {"state": "ready"},
                    **{address: {"state": "maint"} for address in _servers(nginx, BASELINE)},
                },
            ),
        )
        assert not switched["failed"], switched
        with LoadGenerator(nginx.url + "/", concurrency=2, max_duration=60, timeout=30, pause=0.01):
            result = module_runner(
                "canary_analysis",
                _args(nginx, state="bake", before=before["snapshot"], pause=30, poll_interval=0.5, min_requests=30),
            )
        with open(nginx.servers_file, "w") as handle:
            handle.write(servers)
    assert not result["failed"], result
    assert result["verdict"] == "fail", result["reason"]
    assert result["canary_servers"] == _servers(nginx, [CANARY]), "the servers taking traffic when the window started"
    assert result["baseline"]["requests"] == 200 and result["baseline"]["errors"] == 0
    assert result["canary"]["errors"] >= 15
    assert result["looked"] < result["looks"] == 60
    assert result["reason"].startswith("new release error rate")
