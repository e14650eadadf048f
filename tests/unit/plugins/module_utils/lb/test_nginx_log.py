"""_nginx_log: the access-log line, what it counts, and the counter source (offsets, rotation, partial lines)."""

from __future__ import annotations

import json
import os
import random
import socket
from dataclasses import astuple

import pytest
from zerodown_testkit.support.fake_clock import FakeClock

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import canary, errors, log_tail, nginx_log
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import counters as lb_counters

WEB1, WEB2, CANARY = "10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.14:8080"


def line(addr, status="200", connect="0.000", header="0.002", response="0.002"):
    return '"%s" "%s" "%s" "%s" "%s"\n' % (addr, status, connect, header, response)


OK = line(WEB1)
CANARY_500 = line(CANARY, "500")


class FakeNginx:
    """What the counter source asks of the nginx load balancer: its id and the servers of the upstream."""

    def __init__(self, servers=(WEB1, WEB2, CANARY)):
        self.id = "/etc/nginx/zerodown/app.servers"
        self.servers = list(servers)

    def read(self, backend):
        if backend != "app":
            raise errors.CanaryInputError("no upstream %r" % backend)
        return {name: {"state": "ready"} for name in self.servers}


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "zerodown-access.log"
    path.write_text("")
    return path


def source(log, **extra):
    return nginx_log.NginxLogCounters(FakeNginx(**extra), str(log))


def append(path, text):
    with open(path, "a") as handle:
        handle.write(text)


# -- one line ------------------------------------------------------------------------------


def test_a_line_is_the_last_attempt_of_one_request():
    entry = nginx_log.parse_line(line(WEB1, response="0.012").rstrip("\n"))
    assert entry == nginx_log.LogEntry(WEB1, 200, True, True, 12.0)
    # retries (a, b) and internal redirects (a : b): the last address is the one whose outcome the client got
    retried = nginx_log.parse_line('"%s, %s" "502, 200" "-, 0.000" "-, 0.001" "0.000, 0.004"' % (WEB2, WEB1))
    assert (retried.address, retried.status, retried.connected, retried.response_ms) == (WEB1, 200, True, 4.0)
    redirected = nginx_log.parse_line('"%s : %s" "500 : 502" "0.000 : -" "0.001 : -" "0.001 : 0.000"' % (WEB1, WEB2))
    assert (redirected.address, redirected.status, redirected.connected, redirected.answered) == (
        WEB2,
        502,
        False,
        False,
    )
    # nginx answered itself (return, static file): no upstream, counted nowhere
    assert nginx_log.parse_line('"-" "-" "-" "-" "-"') is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (line(WEB1), dict(requests=1, responses=1, latency_samples=1, latency_weighted_ms=2.0)),
        (line(WEB1, "503"), dict(requests=1, responses=1, http_5xx=1, latency_samples=1, latency_weighted_ms=2.0)),
        (line(WEB1, "404"), dict(requests=1, responses=1, latency_samples=1, latency_weighted_ms=2.0)),
        # a 502 the server itself sent has a header; nginx's own 502/504 has none
        (line(WEB1, "502"), dict(requests=1, responses=1, http_5xx=1, latency_samples=1, latency_weighted_ms=2.0)),
        (line(WEB1, "502", connect="-", header="-", response="0.000"), dict(requests=1, connection_errors=1)),
        (line(WEB1, "504", connect="-", header="-", response="2.001"), dict(requests=1, connection_errors=1)),
        (line(WEB1, "504", connect="0.000", header="-", response="1.002"), dict(requests=1, response_errors=1)),
        (line(WEB1, "502", connect="0.000", header="-", response="0.010"), dict(requests=1, response_errors=1)),
        # the client went away before the server answered: a request, not an error
        (line(WEB1, "-", connect="0.000", header="-", response="0.500"), dict(requests=1)),
    ],
)
def test_what_a_line_counts(text, expected):
    assert nginx_log.parse_line(text.rstrip("\n")).counts() == lb_counters.Counts(**expected)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            '127.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 2 "-" "curl"',
            "expected 5 double-quoted fields",
        ),
        (OK.rstrip("\n") + " 200", "expected 5 double-quoted fields"),  # a field more
        ('"%s" "0.002" "0.000" "0.002" "200"' % WEB1, "$upstream_status is '0.002'"),  # fields in another order
        ('"%s" "200" "0.000" "0.002"' % WEB1, "expected 5 double-quoted fields"),
        ('"%s, " "200" "0.000" "0.002" "0.002"' % WEB1, "$upstream_addr"),
        ('"" "200" "0.000" "0.002" "0.002"', "$upstream_addr is ''"),
        ('"%s" "200" "0.000" "soon" "0.002"' % WEB1, "$upstream_header_time is 'soon'"),
    ],
)
def test_a_line_in_another_format_says_what_does_not_match(text, why):
    with pytest.raises(ValueError, match="^" + why.replace("$", r"\$")):
        nginx_log.parse_line(text)


def test_the_documented_log_format_is_the_one_parsed():
    # Every variable of LOG_FORMAT, substituted, gives a line the parser reads.
    values = {
        "$upstream_addr": WEB1,
        "$upstream_status": "200",
        "$upstream_connect_time": "0.000",
        "$upstream_header_time": "0.001",
        "$upstream_response_time": "0.003",
    }
    text = nginx_log.LOG_FORMAT
    for name in sorted(values, key=len, reverse=True):
        text = text.replace(name, values[name])
    assert nginx_log.parse_line(text) == nginx_log.LogEntry(WEB1, 200, True, True, 3.0)
    assert nginx_log.LOG_FORMAT_DIRECTIVE == "log_format zerodown '%s';" % nginx_log.LOG_FORMAT


def test_server_names_to_the_addresses_nginx_logs():
    def resolve(host, port, family, kind):
        assert (host, port, kind) == ("app1.internal", 8080, socket.SOCK_STREAM)
        return [
            (socket.AF_INET, kind, 6, "", ("10.0.0.21", port)),
            (socket.AF_INET6, kind, 6, "", ("fe80::1%eth0", port, 0, 2)),
        ]

    assert nginx_log.log_addresses("10.0.0.11:8080") == ["10.0.0.11:8080"]
    assert nginx_log.log_addresses("[0:0::1]:8080") == ["[::1]:8080"]
    assert nginx_log.log_addresses("10.0.0.11") == ["10.0.0.11:80"]
    assert nginx_log.log_addresses("app1.internal:8080", resolve) == [
        "10.0.0.21:8080",
        "[fe80::1]:8080",
        "app1.internal:8080",
    ]

    def fails(*args):
        raise socket.gaierror("no such host")

    assert nginx_log.log_addresses("gone.internal:8080", fails) == ["gone.internal:8080"]


# -- snapshots -----------------------------------------------------------------------------


def test_snapshot_is_the_file_identity_and_the_end_of_its_last_complete_line(log):
    append(log, OK * 3 + '"10.0.0.11:8080" "2')  # a line nginx is still writing
    snap = source(log).snapshot("app", now=lambda: 1000.0)
    stat = os.stat(log)
    entry = snap["load_balancers"]["/etc/nginx/zerodown/app.servers"]
    assert snap["source"] == "nginx_access_log" and snap["version"] == 1 and snap["taken_at"] == 1000.0
    assert (entry["dev"], entry["ino"], entry["offset"]) == (stat.st_dev, stat.st_ino, len(OK) * 3)
    assert entry["servers"] == {name: {"addresses": [name]} for name in (WEB1, WEB2, CANARY)}
    assert json.loads(json.dumps(snap)) == snap
    assert source(log).snapshot("app", [CANARY])["load_balancers"][FakeNginx().id]["servers"] == {
        CANARY: {"addresses": [CANARY]}
    }


def test_snapshot_of_an_empty_log_and_of_unknown_servers(log):
    assert source(log).snapshot("app")["load_balancers"][FakeNginx().id]["offset"] == 0
    with pytest.raises(errors.CanaryInputError, match=r"no server '10.0.0.99:8080' \(it has: 10.0.0.11:8080"):
        source(log).snapshot("app", ["10.0.0.99:8080"])
    with pytest.raises(errors.CanaryInputError, match="invalid nginx upstream server"):
        source(log).snapshot("app", ["web1; down"])


def test_snapshot_fails_early_on_a_log_in_another_format(log):
    append(log, OK + '127.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 2 "-" "curl"\n')
    with pytest.raises(nginx_log.AccessLogError) as error:
        source(log).snapshot("app")
    message = str(error.value)
    assert str(log) in message and "the last line (byte offset %d)" % len(OK) in message
    assert "log_format zerodown" in message and nginx_log.LOG_FORMAT in message
    assert "access_log %s zerodown;" % log in message


def test_a_missing_log_says_how_to_configure_it(tmp_path):
    with pytest.raises(nginx_log.AccessLogError, match="cannot read the nginx access log .*gone.log: No such file"):
        nginx_log.NginxLogCounters(FakeNginx(), str(tmp_path / "gone.log")).snapshot("app")


def test_servers_that_log_as_the_same_address_are_refused(log):
    counters = nginx_log.NginxLogCounters(
        FakeNginx([WEB1, "app1.internal:8080"]),
        str(log),
        resolve=lambda host, port, *rest: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.11", port))],
    )
    with pytest.raises(errors.CanaryInputError, match="both 10.0.0.11:8080 in the access log"):
        counters.snapshot("app")


def test_check_round_trips_a_snapshot_through_json_and_names_what_is_wrong(log):
    counters = source(log)
    good = counters.snapshot("app")
    assert counters.check(json.loads(json.dumps(good)), "app") == good
    lb_id = FakeNginx().id

    def broken(**change):
        snap = json.loads(json.dumps(good))
        snap["load_balancers"][lb_id].update(change)
        return snap

    cases = [
        (broken(access_log="/var/log/nginx/other.log"), "access log '/var/log/nginx/other.log', this call reads"),
        (broken(offset=-3), "offset in the access log is -3, not a count"),
        (broken(ino="x"), "ino of the access log is 'x'"),
        (broken(servers={WEB1: {}}), "server '10.0.0.11:8080' has no list of addresses"),
        (broken(servers=[WEB1]), "has no servers map"),
        (dict(good, source="haproxy"), "since holds haproxy counters, this call reads nginx_access_log counters"),
        ({k: v for k, v in good.items() if k != "source"}, "since holds haproxy counters"),  # older: HAProxy's
        (dict(good, load_balancers={"/run/haproxy/admin.sock": {}}), "same nginx servers_file"),
        (dict(good, backend="other"), "taken for backend 'other'"),
    ]
    for value, message in cases:
        with pytest.raises(errors.CanaryInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            counters.check(value, "app")
    # and a HAProxy call refuses an nginx snapshot
    with pytest.raises(errors.CanaryInputError, match="since holds nginx_access_log counters"):
        lb_counters.check_snapshot(good, "app", [lb_id])


# -- steps ---------------------------------------------------------------------------------


def test_a_step_counts_only_the_lines_written_since_the_snapshot(log):
    append(log, CANARY_500 * 50)  # before the step: not counted
    counters = source(log)
    since = counters.snapshot("app")
    append(log, OK * 30 + line(WEB1, response="0.010") * 10 + line(WEB2) * 5)
    append(log, CANARY_500 * 3 + line(CANARY) * 7)
    append(log, line(CANARY, "502", connect="-", header="-", response="0.000"))
    append(log, line(CANARY, "504", connect="0.000", header="-", response="1.000"))
    append(log, '"-" "-" "-" "-" "-"\n' + line("app", "502", connect="-", header="-", response="0.000"))
    append(log, line("10.0.0.99:8080"))  # a server of another upstream
    per_server = counters.step(since, counters.snapshot("app"))
    web1 = per_server[WEB1]
    assert (web1.requests, web1.errors) == (40, 0)
    assert web1.latency_ms == pytest.approx((30 * 2 + 10 * 10) / 40)  # exact: the sum over the count
    assert per_server[WEB2].requests == 5
    c = per_server[CANARY]
    assert (c.requests, c.responses, c.http_5xx, c.connection_errors, c.response_errors) == (12, 10, 3, 1, 1)
    assert c.errors == 5 and c.latency_ms == pytest.approx(2.0)
    assert set(per_server) == {WEB1, WEB2, CANARY}


def test_a_line_being_written_waits_for_the_next_reading(log):
    counters = source(log)
    since = counters.snapshot("app")
    half = len(OK) // 2
    append(log, OK + OK[:half])
    first = counters.snapshot("app")
    assert first["load_balancers"][FakeNginx().id]["offset"] == len(OK)
    assert counters.step(since, first)[WEB1].requests == 1
    append(log, OK[half:])
    second = counters.snapshot("app")
    assert counters.step(since, second)[WEB1].requests == 2
    assert counters.step(first, second)[WEB1].requests == 1
    # a fresh source (the next module call) gets the same from the file alone
    assert source(log).step(since, second)[WEB1].requests == 2


def test_polls_read_only_what_was_written_since_the_previous_one(log, monkeypatch):
    append(log, OK * 20000)  # a big log before the step
    counters = source(log)
    since = counters.snapshot("app")
    read = []
    real_open = counters.tail._open

    class Counting:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def fileno(self):
            return self.handle.fileno()

        def seek(self, offset):
            return self.handle.seek(offset)

        def read(self, size=-1):
            data = self.handle.read(size)
            read.append(len(data))
            return data

    monkeypatch.setattr(counters.tail, "_open", lambda: Counting(real_open()))
    for _poll in range(5):
        append(log, line(CANARY) * 10)
        now = counters.snapshot("app")
        assert counters.step(since, now)[CANARY].requests == 10 * (_poll + 1)
    # each poll: a few KiB back from the end to find the last line, and the new lines; not the 900 KiB before
    assert sum(read) <= 5 * (log_tail.TAIL + 1 + 10 * len(OK))  # + 1: the newline before the step


def test_a_rotated_or_truncated_log_makes_the_step_unmeasurable(log):
    counters = source(log)
    append(log, OK * 5)
    since = counters.snapshot("app")
    append(log, OK * 5)
    # logrotate's default: rename, nginx reopens (USR1) a new file
    os.rename(log, str(log) + ".1")
    append(log, OK * 20)
    with pytest.raises(errors.CounterResetError, match="is another file than at the snapshot.*take a new snapshot"):
        counters.step(since, counters.snapshot("app"))
    # copytruncate: the same file, shorter than the offset
    since = counters.snapshot("app")
    with open(log, "w"):
        pass
    append(log, OK)
    with pytest.raises(errors.CounterResetError, match="is shorter than at the snapshot"):
        counters.step(since, counters.snapshot("app"))
    # copytruncate, then written past the offset again before the step ends: no line ends at the offset
    since = counters.snapshot("app")
    with open(log, "w"):
        pass
    append(log, line(CANARY, response="0.1234") * 3)
    with pytest.raises(errors.CounterResetError, match="no longer has a line ending at byte %d" % len(OK)):
        counters.step(since, counters.snapshot("app"))


def test_a_bad_line_in_the_step_names_the_file_the_line_and_the_format(log):
    counters = source(log)
    since = counters.snapshot("app")
    append(log, OK * 2 + '"%s" "200" "0.000" "0.001"\n' % WEB1 + OK)
    with pytest.raises(nginx_log.AccessLogError) as error:
        counters.step(since, counters.snapshot("app"))
    message = str(error.value)
    assert "nginx access log %s, line 3 since the snapshot (byte offset %d)" % (log, 2 * len(OK)) in message
    assert "expected 5 double-quoted fields" in message and nginx_log.LOG_FORMAT_DIRECTIVE in message


def test_steps_add_up_however_the_writes_are_cut(tmp_path):
    """Random traffic written in random pieces, snapshots at random moments: the steps sum to the whole."""
    rng = random.Random(7)
    choices = [OK, line(WEB2, response="0.007"), CANARY_500, line(CANARY), line(CANARY, "502", "-", "-", "0.000")]
    everyone = [WEB1, WEB2, CANARY]
    for trial in range(30):
        path = tmp_path / ("trial-%d.log" % trial)
        path.write_text("")
        counters = source(path)
        text = "".join(rng.choice(choices) for _index in range(rng.randint(1, 300)))
        first = last = counters.snapshot("app")
        total = lb_counters.Counts()
        written = 0
        while written < len(text):
            piece = rng.randint(1, 120)
            append(path, text[written : written + piece])
            written += piece
            if rng.random() < 0.3:
                now = counters.snapshot("app")
                total = total.add(lb_counters.group(counters.step(last, now), everyone))
                last = now
        now = counters.snapshot("app")
        total = total.add(lb_counters.group(counters.step(last, now), everyone))
        whole = lb_counters.group(source(path).step(first, now), everyone)
        assert astuple(total)[:-1] == pytest.approx(astuple(whole)[:-1])
        # every answered request's response time once, whichever step read it
        assert sorted(total.latency_values) == sorted(whole.latency_values)
        assert len(whole.latency_values) == whole.latency_samples
        assert total.requests == text.count("\n") and total.http_5xx == text.count(CANARY_500)
        assert total.connection_errors == text.count('"-" "-"')


# -- the shared analysis, with nginx counts --------------------------------------------------


class TrafficClock(FakeClock):
    """A fake clock during whose sleeps nginx writes ``lines`` to the log."""

    def __init__(self, path, lines):
        super().__init__()
        self.path, self.lines = path, lines

    def sleep(self, seconds):
        super().sleep(seconds)
        append(self.path, self.lines)


T = canary.Thresholds(min_requests=30, max_error_rate=0.01, max_latency_ratio=1.5, significance=0.01)


def test_analyze_step_judges_nginx_counts_with_the_same_statistics(log):
    counters = source(log)
    since = counters.snapshot("app")
    clock = TrafficClock(log, (OK * 9 + line(WEB2) * 9 + CANARY_500) * 5)
    result = canary.analyze_step(counters, since, [CANARY], [WEB1, WEB2], T, pause=5, max_wait=60, clock=clock)
    assert result.verdict.verdict == "fail", result.verdict.reason
    assert (result.verdict.canary.requests, result.verdict.canary.errors) == (30, 30)
    assert result.verdict.baseline.requests == 6 * 90
    # a look every second (each reading only the new lines), failing at the first with min_requests
    assert clock.sleeps == [1.0] * 6 and result.stopped_early is False
    assert result.snapshot["source"] == "nginx_access_log"
    quiet = TrafficClock(log, OK)
    since = counters.snapshot("app")
    result = canary.analyze_step(counters, since, [CANARY], [WEB1], T, pause=5, max_wait=3, clock=quiet)
    assert result.verdict.verdict == "inconclusive" and result.verdict.baseline.requests == len(quiet.sleeps)


def test_each_answered_request_gives_its_response_time(log):
    counters = source(log)
    append(log, line(CANARY, response="0.900") * 4)
    since = counters.snapshot("app")
    append(log, line(CANARY, response="0.012") + CANARY_500 + line(CANARY, "502", "-", "-", "0.000") + line(WEB1))
    append(log, line(CANARY, "-", "0.001", "-", "-"))  # the client went away first: no response time
    step = counters.step(since, counters.snapshot("app"))
    assert step[CANARY].requests == 4 and step[CANARY].latency_values == [12.0, 2.0]
    assert step[WEB1].latency_values == [2.0] and step[WEB2].latency_values == []
    # the bake window's reference has them too
    assert sorted(counters.reference(counters.snapshot("app")).latency_values) == [2.0, 2.0, 12.0] + [900.0] * 4
