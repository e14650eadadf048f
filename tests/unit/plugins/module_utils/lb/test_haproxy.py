from __future__ import annotations

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils.lb.haproxy import (
    HAProxyCommandError,
    HAProxyConnectionError,
    HAProxyNameError,
    HAProxyNotFoundError,
    HAProxyRuntime,
    HAProxyValueError,
    admin_state_name,
    normalize_weight,
    parse_address,
    parse_servers_state,
    parse_stat_csv,
    server_counters,
    validate_name,
)

STATE_HEADER = (
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
    "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
    "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
    "srv_check_addr srv_agent_addr srv_agent_port"
)
SERVERS_STATE = (
    "1\n" + STATE_HEADER + "\n"
    "3 app 1 s1 127.0.0.1 2 8 10 10 5 1 0 2 0 0 0 0 - 8001 - 0 0 - - 0\n"
    "3 app 2 s2 127.0.0.1 2 0 1 1 5 1 0 2 0 0 0 0 - 8002 - 0 0 - - 0\n"
    "4 other 1 o1 127.0.0.1 2 1 1 1 5 1 0 2 0 0 0 0 - 8003 - 0 0 - - 0\n\n"
)
STAT = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,hrsp_5xx,\n"
    "fe,FRONTEND,,,3,5,100,40,0,0,0,0,0,,,,,OPEN,,0,\n"
    "app,s1,1,1,2,4,,30,0,0,,0,,0,1,2,0,DRAIN,10,3,\n"
    "app,s2,0,0,0,1,,10,0,0,,0,,0,0,0,0,UP,1,0,\n"
    "app,BACKEND,0,0,2,5,10,40,0,0,0,0,,0,1,2,0,UP,11,3,\n"
    "other,o1,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,0,\n"
    "other,BACKEND,0,0,0,0,10,0,0,0,0,0,,0,0,0,0,DOWN,0,0,\n\n"
)


class FakeSocket:
    def __init__(self, answer: str) -> None:
        self.answer = answer.encode()
        self.sent = b""
        self.closed = False

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def recv(self, size: int) -> bytes:
        chunk, self.answer = self.answer[:size], self.answer[size:]
        return chunk

    def close(self) -> None:
        self.closed = True


class FakeHAProxy:
    """Answers by command prefix and records every line sent."""

    def __init__(self, answers=None) -> None:
        self.answers = {"show servers state": SERVERS_STATE, "show stat": STAT}
        self.answers.update(answers or {})
        self.lines = []
        self.connects = []

    def __call__(self, kind, target, timeout):
        self.connects.append((kind, target, timeout))
        outer = self

        class Sock(FakeSocket):
            def sendall(self, data: bytes) -> None:
                line = data.decode().rstrip("\n")
                outer.lines.append(line)
                for prefix, answer in sorted(outer.answers.items(), key=lambda kv: -len(kv[0])):
                    if line.startswith(prefix):
                        self.answer = answer.encode()
                        return
                self.answer = b"\n"

        return Sock("")


def runtime(answers=None, address="/run/haproxy.sock"):
    fake = FakeHAProxy(answers)
    return HAProxyRuntime(address, socket_factory=fake), fake


def runtime_only(answers=None):
    return runtime(answers)[0]


@pytest.mark.parametrize(
    "address,expected",
    [
        ("/run/haproxy/admin.sock", ("unix", "/run/haproxy/admin.sock")),
        ("unix:relative.sock", ("unix", "relative.sock")),
        ("127.0.0.1:9999", ("tcp", ("127.0.0.1", 9999))),
        ("lb1.example.org:80", ("tcp", ("lb1.example.org", 80))),
        ("[::1]:9000", ("tcp", ("::1", 9000))),
        ("ipv4@127.0.0.1:1234", ("tcp", ("127.0.0.1", 1234))),
        ("admin.sock", ("unix", "admin.sock")),
    ],
)
def test_parse_address(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["", "   ", "127.0.0.1:0", "127.0.0.1:70000", None])
def test_parse_address_rejects(address):
    with pytest.raises(HAProxyValueError):
        parse_address(address)


@pytest.mark.parametrize("name", ["web1", "app_v2", "be-1.example:80", "A" * 128])
def test_valid_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "web1;shutdown sessions server app/s1",
        "web1\nset server app/s2 state maint",
        "web1\n",
        "web1\x00",
        "a b",
        "a/b",
        "x\r",
        "é",
        None,
        5,
        "A" * 129,
    ],
)
def test_invalid_names_are_rejected_before_anything_is_sent(name):
    rt, fake = runtime()
    with pytest.raises(HAProxyNameError):
        validate_name(name)
    with pytest.raises(HAProxyNameError):
        rt.set_server_state("app", name, "drain")
    with pytest.raises(HAProxyNameError):
        rt.set_weight(name, "s1", 5)
    with pytest.raises(HAProxyNameError):
        rt.shutdown_sessions("app", name)
    assert fake.lines == []


def test_low_level_command_refuses_separators():
    rt, fake = runtime()
    for command in ("show stat; shutdown sessions server a/b", "show info\nshow stat", "", "show\x00"):
        with pytest.raises(HAProxyNameError):
            rt.execute(command)
    assert fake.lines == []
    assert rt.execute("show info") == "\n"
    assert fake.lines == ["show info"]


@pytest.mark.parametrize(
    "weight,expected", [(0, "0"), (256, "256"), ("10", "10"), ("5%", "5%"), ("100%", "100%"), (" 7 ", "7")]
)
def test_normalize_weight(weight, expected):
    assert normalize_weight(weight) == expected


@pytest.mark.parametrize(
    "weight",
    [257, -1, "101%", "abc", "5.5", True, None, "%", "1;2", "\uff15", "\u0661\u0662", "\uff15%", 5.5, float("nan")],
)
def test_normalize_weight_rejects(weight):
    with pytest.raises(HAProxyValueError):
        normalize_weight(weight)


def test_parse_stat_csv_coerces_numbers():
    rows = parse_stat_csv(STAT)
    s1 = next(r for r in rows if r["svname"] == "s1")
    assert s1["scur"] == 2 and s1["qcur"] == 1 and s1["status"] == "DRAIN" and s1["wretr"] == 2
    fe = rows[0]
    assert fe["qcur"] == "" and fe["svname"] == "FRONTEND"


def test_parse_stat_csv_rejects_garbage():
    with pytest.raises(HAProxyCommandError):
        parse_stat_csv("Permission denied\n")


def test_parse_servers_state():
    rows = parse_servers_state(SERVERS_STATE)
    assert [(r["be_name"], r["srv_name"], r["srv_admin_state"], r["srv_uweight"]) for r in rows] == [
        ("app", "s1", 8, 10),
        ("app", "s2", 0, 1),
        ("other", "o1", 1, 1),
    ]


def test_admin_state_name():
    assert admin_state_name(0) == "ready"
    assert admin_state_name(0x08) == "drain"
    assert admin_state_name(0x10) == "drain"
    assert admin_state_name(0x01) == "maint"
    assert admin_state_name(0x04) == "maint"
    assert admin_state_name(0x09) == "maint"


def test_server_info_merges_state_and_stat():
    rt, fake = runtime()
    info = rt.server("app", "s1")
    assert info == {
        "backend": "app",
        "server": "s1",
        "address": "127.0.0.1:8001",
        "state": "drain",
        "admin_state": 8,
        "operational_state": "running",
        "weight": 10,
        "initial_weight": 10,
        "status": "DRAIN",
        "scur": 2,
        "qcur": 1,
    }
    assert fake.lines == ["show servers state", "show stat"]
    assert fake.connects[0] == ("unix", "/run/haproxy.sock", 5.0)


def test_unknown_server_and_backend():
    rt = runtime_only()
    with pytest.raises(HAProxyNotFoundError, match="no server 'zz' in backend 'app'.*s1, s2"):
        rt.server("app", "zz")
    with pytest.raises(HAProxyNotFoundError, match="no backend 'nope'"):
        rt.server("nope", "s1")
    with pytest.raises(HAProxyNotFoundError, match="no server zz"):
        rt.sessions("app", ["s1", "zz"])


def test_show_servers_state_unknown_backend():
    rt = runtime_only({"show servers state nope": "Can't find backend.\n\n"})
    with pytest.raises(HAProxyNotFoundError, match="Can't find backend"):
        rt.show_servers_state("nope")


def test_commands_sent_for_changes():
    rt, fake = runtime()
    rt.set_server_state("app", "s1", "drain")
    rt.set_weight("app", "s2", "50%")
    rt.shutdown_sessions("app", "s1")
    assert fake.lines == ["set server app/s1 state drain", "set weight app/s2 50%", "shutdown sessions server app/s1"]


def test_bad_state_never_sent():
    rt, fake = runtime()
    with pytest.raises(HAProxyValueError):
        rt.set_server_state("app", "s1", "up")
    assert fake.lines == []


def test_error_answers_raise():
    rt = runtime_only({"set server app/zz": "No such server.\n\n", "set weight": "Permission denied\n\n"})
    with pytest.raises(HAProxyNotFoundError, match="No such server"):
        rt.set_server_state("app", "zz", "ready")
    with pytest.raises(HAProxyCommandError, match="Permission denied"):
        rt.set_weight("app", "s1", 3)


def test_apply_sends_one_batch_and_detects_errors():
    rt, fake = runtime()
    rt.apply([rt.state_command("app", "s1", "ready"), rt.weight_command("app", "s2", 4)])
    assert fake.lines == ["set server app/s1 state ready; set weight app/s2 4"]
    assert len(fake.connects) == 1
    rt2 = runtime_only({"set server": "\nNo such server.\n\n"})
    with pytest.raises(HAProxyNotFoundError):
        rt2.apply(["set server app/s1 state ready"])
    with pytest.raises(HAProxyNameError):
        rt2.apply(["set server app/s1 state ready; shutdown sessions server app/s1"])


def test_get_weight():
    rt = runtime_only({"get weight": "3 (initial 10)\n\n"})
    assert rt.get_weight("app", "s1") == (3, 10)
    rt2 = runtime_only({"get weight": "No such server.\n\n"})
    with pytest.raises(HAProxyNotFoundError):
        rt2.get_weight("app", "zz")


def test_counters_and_backends():
    rt = runtime_only()
    assert rt.backends() == {"app": ["s1", "s2"], "other": ["o1"]}
    counters = rt.counters("app")
    assert set(counters) == {"app/s1", "app/s2"}
    assert counters["app/s1"]["wretr"] == 2 and counters["app/s1"]["hrsp_5xx"] == 3
    assert counters["app/s1"]["cli_abrt"] == 0  # column absent: 0
    assert set(server_counters(parse_stat_csv(STAT))) == {"app/s1", "app/s2", "other/o1"}


def test_unreachable_socket(tmp_path):
    rt = HAProxyRuntime(str(tmp_path / "missing.sock"), timeout=0.5)
    with pytest.raises(HAProxyConnectionError, match="cannot reach"):
        rt.show_stat()


def test_tcp_refused():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HAProxyConnectionError):
        HAProxyRuntime("127.0.0.1:%d" % port, timeout=0.5).show_stat()


def test_show_info_parses_pid_and_start_time():
    fake = FakeHAProxy({"show info": "Name: HAProxy\nVersion: 2.6.12\nPid: 4242\nStart_time_sec: 1796110930\n\n"})
    info = HAProxyRuntime("/run/haproxy.sock", socket_factory=fake).show_info()
    assert info["Pid"] == "4242" and info["Start_time_sec"] == "1796110930"
    assert fake.lines == ["show info"]


def test_show_info_refuses_an_answer_without_pid():
    fake = FakeHAProxy({"show info": "Unknown command.\n"})
    with pytest.raises(HAProxyCommandError, match="show info"):
        HAProxyRuntime("/run/haproxy.sock", socket_factory=fake).show_info()
