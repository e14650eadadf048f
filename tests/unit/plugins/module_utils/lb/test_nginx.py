from __future__ import annotations

import re
import signal
import subprocess

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.nginx import (
    HEADER_PREFIX,
    Nginx,
    NginxConfigTestError,
    NginxError,
    NginxFileError,
    NginxReloadError,
    NginxServer,
    parse_servers,
    render_servers,
    validate_address,
    validate_weight,
)

SAMPLE = """# written by hand
server 10.0.0.1:8080;
server 10.0.0.2:8080 weight=3 max_fails=2 fail_timeout=5s;
  server 10.0.0.3:8080 down;
server 10.0.0.4:8080 weight=2 down;  # zerodown: drain
"""


def test_parse_reads_state_weight_and_keeps_other_params():
    upstream, servers = parse_servers(SAMPLE)
    assert upstream is None
    assert [(s.address, s.state, s.effective_weight, s.params) for s in servers] == [
        ("10.0.0.1:8080", "ready", 1, []),
        ("10.0.0.2:8080", "ready", 3, ["max_fails=2", "fail_timeout=5s"]),
        ("10.0.0.3:8080", "maint", 1, []),
        ("10.0.0.4:8080", "drain", 2, []),
    ]


def test_weights_back_to_one_give_back_the_line_as_it_was():
    servers = parse_servers(SAMPLE)[1]
    servers[0].set_weight(19)  # a canary step
    servers[0].set_weight(1)  # restored: no weight= added where there was none
    assert servers[0].render() == "    server 10.0.0.1:8080;"
    explicit = parse_servers("server 10.0.0.9:8080 weight=1;\n")[1][0]
    explicit.set_weight(1)
    assert explicit.render() == "    server 10.0.0.9:8080 weight=1;"


def test_render_round_trips_and_marks_states():
    servers = parse_servers(SAMPLE)[1]
    servers[0].set_state("drain")
    servers[1].set_weight(7)
    servers[3].set_state("ready")
    servers[2].set_weight(1)  # nginx's default: no weight= added
    text = render_servers("app", servers)
    assert text == (
        HEADER_PREFIX + "app\n"
        "    server 10.0.0.1:8080 down;  # zerodown: drain\n"
        "    server 10.0.0.2:8080 weight=7 max_fails=2 fail_timeout=5s;\n"
        "    server 10.0.0.3:8080 down;  # zerodown: maint\n"
        "    server 10.0.0.4:8080 weight=2;\n"
    )
    upstream, again = parse_servers(text)
    assert upstream == "app"
    assert [(s.address, s.state, s.effective_weight) for s in again] == [
        ("10.0.0.1:8080", "drain", 1),
        ("10.0.0.2:8080", "ready", 7),
        ("10.0.0.3:8080", "maint", 1),
        ("10.0.0.4:8080", "ready", 2),
    ]
    assert render_servers("app", again) == text


@pytest.mark.parametrize(
    "text,message",
    [
        ("upstream app { server a:1; }\n", "not a 'server"),
        ("server a:1\n", "not a 'server"),
        ("server a:1;\nserver a:1;\n", "appears twice"),
        ("server a:1 weight=x;\n", "bad 'weight=x'"),
    ],
)
def test_parse_rejects_what_it_does_not_own(text, message):
    with pytest.raises(NginxFileError, match=message):
        parse_servers(text)


@pytest.mark.parametrize("address", ["10.0.0.1:80", "web-1.internal:8080", "[::1]:80"])
def test_valid_addresses(address):
    assert validate_address(address) == address


@pytest.mark.parametrize(
    "address", ["a:1;", "a:1\nserver evil:1", "a b", "a:1#", "unix:/run/app.sock", "", None, "a:1\n", "a:1\x00"]
)
def test_invalid_addresses(address):
    with pytest.raises(NginxError):
        validate_address(address)


def test_weights():
    assert validate_weight(1) == 1 and validate_weight("20") == 20
    for bad, message in (
        (0, "no weight 0"),
        ("50%", "no percentages"),
        (True, "boolean"),
        (-1, "weight of 1-"),
        ("\uff15", "digits 0-9"),
        ("\u0661\u0662", "digits 0-9"),
    ):
        with pytest.raises(NginxError, match=message):
            validate_weight(bad)


def _stat(pid, ppid, start, state="S", comm="nginx"):
    # /proc/PID/stat: field 22 (starttime) is the 18th after "state ppid".
    return "%d (%s) %s %d %s" % (pid, comm, state, ppid, " ".join(["0"] * 17 + [str(start)] + ["0"] * 5))


NGINX = "/usr/sbin/nginx"


def _process(proc, pid, ppid, start, state="S", title="nginx: worker process", exe=NGINX):
    """A fake /proc/<pid>: stat, cmdline (nginx's title, NUL-padded as nginx leaves it) and the exe link."""
    (proc / str(pid)).mkdir(parents=True, exist_ok=True)
    (proc / str(pid) / "stat").write_text(_stat(pid, ppid, start, state, comm="nginx: worker (x)"))
    (proc / str(pid) / "cmdline").write_bytes(title.encode() + b"\0" * 8)
    exe_link = proc / str(pid) / "exe"
    if exe_link.is_symlink():
        exe_link.unlink()
    if exe is not None:
        exe_link.symlink_to(exe)


@pytest.fixture
def fake_nginx(tmp_path):
    proc = tmp_path / "proc"
    master_title = "nginx: master process %s -c %s -p %s" % (NGINX, tmp_path / "nginx.conf", tmp_path)
    for pid, ppid, start, state, title in (
        (500, 1, 10, "S", master_title),
        (501, 500, 11, "S", "nginx: worker process"),
        (502, 500, 12, "S", "nginx: worker process"),
        (503, 500, 13, "Z", "nginx: worker process"),
        (504, 500, 14, "S", "sh -c logger"),  # a child that is not nginx's (a piped error_log, say)
        (600, 1, 5, "S", "nginx: worker process"),
    ):
        _process(proc, pid, ppid, start, state, title, exe="/bin/sh" if pid == 504 else NGINX)
    (tmp_path / "nginx.pid").write_text("500\n")
    servers = tmp_path / "app.servers"
    servers.write_text("server 10.0.0.1:80;\nserver 10.0.0.2:80;\n")
    calls = []

    def runner(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", 'nginx: [emerg] unknown directive "bogus" in /etc/nginx.conf:3')

    control = Nginx(
        str(tmp_path / "nginx.conf"),
        str(servers),
        pid_file=str(tmp_path / "nginx.pid"),
        binary=NGINX,
        prefix=str(tmp_path),
        proc_root=str(proc),
        runner=runner,
        signaller=lambda pid, sig: pytest.fail("signal %s sent to %s" % (sig, pid)),
    )
    return control, calls, proc


def test_workers_are_children_of_master_tracked_with_start_time(fake_nginx):
    control, proc = fake_nginx[0], fake_nginx[2]
    assert control.master_pid() == 500
    workers = control.workers()
    assert workers == {(501, 11), (502, 12)}  # the zombie and unrelated processes are not workers
    # 502 exits and its PID is reused by an unrelated process: not the same worker.
    _process(proc, 502, 1, 99)
    assert control.alive(workers) == {(501, 11)}


def test_failed_config_test_puts_the_old_file_back(fake_nginx):
    control, calls = fake_nginx[0], fake_nginx[1]
    before = control.read_text()
    with pytest.raises(NginxConfigTestError, match="put back as it was: nginx: .emerg. unknown directive"):
        control.apply_text(render_servers("app", [NginxServer("10.0.0.1:80", down=True, mark="drain")]))
    assert control.read_text() == before
    assert calls == [["/usr/sbin/nginx", "-c", control.conf, "-p", str(control.prefix), "-t", "-q"]]


def test_missing_master_is_an_error(fake_nginx, tmp_path):
    control = fake_nginx[0]
    (tmp_path / "nginx.pid").write_text("4242\n")
    with pytest.raises(NginxReloadError, match="4242"):
        control.master_pid()
    control.pid_file = str(tmp_path / "absent.pid")
    with pytest.raises(NginxReloadError, match="is nginx running"):
        control.master_pid()


def test_upstream_mismatch_and_missing_file(fake_nginx, tmp_path):
    control = fake_nginx[0]
    control.write_text(render_servers("other", [NginxServer("10.0.0.1:80")]))
    with pytest.raises(NginxFileError, match="upstream 'other', not 'app'"):
        control.read("app")
    control.servers_file = str(tmp_path / "missing.servers")
    with pytest.raises(NginxFileError, match="cannot read"):
        control.read_text()


def test_nginx_provider_plans_and_maps_errors(fake_nginx):
    control = fake_nginx[0]
    provider = lb.NginxProvider(control)
    current = provider.read("app")
    assert current == {
        "10.0.0.1:80": {"state": "ready", "weight": 1, "initial_weight": 1, "address": "10.0.0.1:80", "sessions": 0},
        "10.0.0.2:80": {"state": "ready", "weight": 1, "initial_weight": 1, "address": "10.0.0.2:80", "sessions": 0},
    }
    changes = lb.plan(provider, current, {"10.0.0.1:80": {"state": "drain", "weight": 4}})
    assert changes == {"10.0.0.1:80": {"state": "drain", "weight": 4}}
    assert "server 10.0.0.1:80 weight=4 down;  # zerodown: drain" in provider.render("app", changes)
    with pytest.raises(lb.LBValidationError, match="nginx -t rejected"):
        provider.apply("app", changes)
    with pytest.raises(lb.LBValidationError, match="no percentages"):
        lb.plan(provider, current, {"10.0.0.1:80": {"weight": "5%"}})
    with pytest.raises(lb.LBValidationError, match="invalid nginx upstream server"):
        provider.check_name("10.0.0.1:80;")
    assert provider.pending("app", ["10.0.0.1:80"]) == {"10.0.0.1:80": 0}


# -- the PID in the pid file is verified before any signal, the reload by its new workers -----------------


@pytest.mark.parametrize(
    "content, message",
    [
        ("1\n", "names PID 1, which is never an nginx master (1 is init"),
        ("0", "names PID 0, which is never an nginx master"),
        ("-1", "holds '-1', not a process id"),
        ("500 501", "holds '500 501', not a process id"),
        ("", "holds '', not a process id"),
        ("５００", "not a process id"),  # Unicode digits are not a PID
        ("99999999999", "not a process id"),
        ("4242", "names PID 4242, which is not running"),
    ],
)
def test_a_pid_file_that_names_no_nginx_master_is_refused(fake_nginx, tmp_path, content, message):
    control = fake_nginx[0]
    (tmp_path / "nginx.pid").write_text(content)
    with pytest.raises(NginxReloadError, match=re.escape(message)):
        control.master_pid()


def test_decoys_are_refused_naming_what_they_are(fake_nginx, tmp_path):
    control, _calls, proc = fake_nginx
    (tmp_path / "nginx.pid").write_text("700")
    _process(proc, 700, 1, 70, title="python3 decoy.py", exe="/usr/bin/python3")
    with pytest.raises(NginxReloadError, match="runs /usr/bin/python3 .'python3 decoy.py'., not the nginx binary"):
        control.master_pid()
    # a decoy that names itself like nginx's master still runs another executable
    _process(proc, 700, 1, 70, title="nginx: master process nginx", exe="/usr/bin/python3")
    with pytest.raises(NginxReloadError, match="runs /usr/bin/python3"):
        control.master_pid()
    # a worker is nginx, but not the master
    (tmp_path / "nginx.pid").write_text("501")
    with pytest.raises(NginxReloadError, match="an nginx process but not the master .'nginx: worker process'."):
        control.master_pid()
    # the master of another nginx (another -c)
    _process(proc, 700, 1, 70, title="nginx: master process nginx -c /etc/nginx/other.conf", exe=NGINX)
    (tmp_path / "nginx.pid").write_text("700")
    with pytest.raises(
        NginxReloadError, match="master of another nginx .its configuration file is /etc/nginx/other.conf,"
    ):
        control.master_pid()
    # an unreadable exe (another user's process without become) is not taken on trust
    _process(proc, 700, 1, 70, title="nginx: master process nginx", exe=None)
    with pytest.raises(NginxReloadError, match="whose executable cannot be read.*become: true"):
        control.master_pid()
    # an nginx upgraded in place runs its old, unlinked binary: still the configured one
    _process(proc, 700, 1, 70, title="nginx: master process nginx -c %s" % control.conf, exe=NGINX + " (deleted)")
    assert control.master_pid() == 700


DEBIAN_V = (
    "nginx version: nginx/1.22.1\nconfigure arguments: --with-cc-opt='-g -O2' --prefix=/usr/share/nginx "
    "--conf-path=/etc/nginx/nginx.conf --pid-path=/run/nginx.pid\n"
)


def _cwd(proc, pid, directory):
    link = proc / str(pid) / "cwd"
    if link.is_symlink():
        link.unlink()
    link.symlink_to(directory)


@pytest.mark.parametrize(
    "title, cwd, version, accepted",
    [
        # a relative -c and a relative -p resolve against the master's working directory
        ("nginx -p other/ -c nginx.conf", "{tmp}", DEBIAN_V, False),
        ("nginx -p . -c nginx.conf", "{tmp}", DEBIAN_V, True),
        ("nginx -p ./ -cnginx.conf", "{tmp}", DEBIAN_V, True),
        ("nginx -c nginx.conf -p ./", "/", DEBIAN_V, False),
        # a relative -c without -p: the compiled-in prefix
        ("nginx -c nginx.conf", "{tmp}", DEBIAN_V, False),
        ("nginx -c nginx.conf", "/", "configure arguments: --prefix={tmp}", True),
        # no -c: the compiled-in conf path (relative ones against the prefix)
        ("nginx", "{tmp}", DEBIAN_V, False),
        ("nginx -g daemon off;", "{tmp}", "configure arguments: --prefix={tmp} --conf-path=nginx.conf", True),
        ("nginx -p {tmp}", "/", "configure arguments: --conf-path=nginx.conf", True),
        ("nginx -p {tmp}", "/", "configure arguments: --with-debug", False),  # conf/nginx.conf under -p
        # an absolute -c is the file itself, wherever nginx started
        ("nginx -c {tmp}/nginx.conf -p /elsewhere", "/", DEBIAN_V, True),
        ("nginx -c {tmp}/../{name}/./nginx.conf", "/", DEBIAN_V, True),
        ("nginx -c /etc/nginx/nginx.conf", "/", DEBIAN_V, False),
    ],
)
def test_the_master_must_read_the_configured_conf_however_it_was_started(
    fake_nginx, tmp_path, title, cwd, version, accepted
):
    control, calls, proc = fake_nginx
    fill = dict(tmp=tmp_path, name=tmp_path.name)

    def runner(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", version.format(**fill))

    control._run = runner
    _process(proc, 700, 1, 70, title="nginx: master process " + title.format(**fill), exe=NGINX)
    _cwd(proc, 700, cwd.format(**fill))
    (tmp_path / "nginx.pid").write_text("700")
    if accepted:
        assert control.master_pid() == 700
    else:
        with pytest.raises(NginxReloadError, match="master of another nginx .its configuration file is /"):
            control.master_pid()
    assert all(cmd == [NGINX, "-V"] for cmd in calls) and len(calls) <= 1  # -V at most once, nothing else run


def test_a_master_whose_conf_cannot_be_resolved_is_refused(fake_nginx, tmp_path):
    control, calls, proc = fake_nginx
    (tmp_path / "nginx.pid").write_text("700")
    # relative paths, but the working directory is unreadable (another user's nginx without become)
    _process(proc, 700, 1, 70, title="nginx: master process nginx -p rel -c nginx.conf", exe=NGINX)
    with pytest.raises(NginxReloadError, match="working directory cannot be read.*become: true; nothing was signalled"):
        control.master_pid()
    # no -c, and nginx -V does not say where its conf is
    _process(proc, 700, 1, 70, title="nginx: master process nginx", exe=NGINX)
    _cwd(proc, 700, tmp_path)
    with pytest.raises(NginxReloadError, match="-V did not print its configure arguments"):
        control.master_pid()
    # an empty -c
    _process(proc, 700, 1, 70, title="nginx: master process nginx -c", exe=NGINX)
    with pytest.raises(NginxReloadError, match="an empty -c or -p names no file; nothing was signalled"):
        control.master_pid()


def test_a_missing_binary_is_named(fake_nginx):
    control = fake_nginx[0]
    control.binary = "zerodown-no-such-nginx"
    with pytest.raises(NginxReloadError, match="cannot find the nginx binary 'zerodown-no-such-nginx'"):
        control.master_pid()


def _passing(control, calls):
    def runner(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    control._run = runner


def test_a_decoy_is_never_signalled_and_the_file_stays(fake_nginx, tmp_path):
    control, calls, proc = fake_nginx
    _passing(control, calls)
    (tmp_path / "nginx.pid").write_text("1")
    before = control.read_text()
    with pytest.raises(NginxReloadError, match="PID 1"):
        control.apply_text(render_servers("app", [NginxServer("10.0.0.1:80", down=True, mark="drain")]))
    assert control.read_text() == before and calls == []  # not even nginx -t


def test_the_reload_counts_only_once_the_same_master_has_new_workers(fake_nginx, tmp_path):
    control, calls, proc = fake_nginx
    _passing(control, calls)
    sent = []

    def reload(pid, sig):
        sent.append((pid, sig))
        _process(proc, 505, 500, 20)  # the new worker

    control._signal = reload
    old = control.apply_text(render_servers("app", [NginxServer("10.0.0.1:80", down=True, mark="drain")]))
    assert sent == [(500, signal.SIGHUP)] and old == {(501, 11), (502, 12)}


def test_a_signal_that_starts_no_worker_is_no_reload(fake_nginx, tmp_path):
    control, calls, proc = fake_nginx
    _passing(control, calls)
    control._signal = lambda pid, sig: _process(proc, 506, 1, 21)  # a new process, but not the master's child
    before = control.read_text()
    with pytest.raises(NginxReloadError, match="started no new workers within 0.2s after SIGHUP; the previous"):
        control.apply_text(render_servers("app", [NginxServer("10.0.0.1:80")]), reload_timeout=0.2, interval=0.05)
    assert control.read_text() == before


def test_a_master_that_exits_on_the_signal_is_reported(fake_nginx, tmp_path):
    control, calls, proc = fake_nginx
    _passing(control, calls)
    control._signal = lambda pid, sig: _process(proc, 500, 1, 10, state="Z")
    before = control.read_text()
    with pytest.raises(NginxReloadError, match="master 500 exited after the reload signal"):
        control.apply_text(render_servers("app", [NginxServer("10.0.0.1:80")]), reload_timeout=5)
    assert control.read_text() == before


def test_a_master_replaced_during_the_config_test_is_not_signalled(fake_nginx, tmp_path):
    control, calls, proc = fake_nginx

    def runner(cmd, **kwargs):
        calls.append(cmd)
        # PID 500 reused by a new master of the same nginx
        _process(proc, 500, 1, 99, title="nginx: master process nginx -c %s" % control.conf)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    control._run = runner
    before = control.read_text()
    with pytest.raises(NginxReloadError, match="replaced while the configuration was tested; the previous"):
        control.apply_text(render_servers("app", [NginxServer("10.0.0.1:80")]))
    assert control.read_text() == before


def test_the_provider_refuses_a_decoy_before_reading_anything(fake_nginx, tmp_path):
    control = fake_nginx[0]
    (tmp_path / "nginx.pid").write_text("1")
    with pytest.raises(lb.LBApplyError, match="PID 1"):
        lb.NginxProvider(control).read("app")


@pytest.mark.parametrize("raw", [b"server 10.0.0.1:80;\nserver 10.0.0.2:80; # caf\xe9\n", b"\xff", b"server \x80;\n"])
def test_a_servers_file_that_is_not_utf8_is_named_not_a_traceback(fake_nginx, tmp_path, raw):
    control = fake_nginx[0]
    (tmp_path / "app.servers").write_bytes(raw)
    with pytest.raises(NginxFileError, match=r"app.servers is not UTF-8 text: byte 0x.. on line \d .*nothing was"):
        control.read("app")
    with pytest.raises(lb.LBValidationError, match="is not UTF-8 text"):
        lb.NginxProvider(control).read("app")
    assert (tmp_path / "app.servers").read_bytes() == raw
