"""Hand-picked hostile inputs to the modules: names, numbers, paths, state files, encodings and secrets, as a
careless or hostile user gives them.

Each case runs the module's main() against the fakes of conftest.py and checks three things: the module fails
with a message naming the option and the bad value, it fails through fail_json (JSON, no traceback), and
nothing changed: no command reached the fake HAProxy, no request was sent, no file or table appeared.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tarfile
import time

import pytest
from conftest import RELEASE, SOCKET, TMP

from ansible_collections.zerodown.deploy.plugins.modules import (
    canary_analysis,
    deploy_lock,
    drain_backend,
    migration_apply,
    migration_check,
    readiness_probe,
    release,
    smoke_test,
    surge_handover,
    switch_traffic,
)

LB = {"socket": [SOCKET], "backend": "app"}


@contextlib.contextmanager
def deadline(seconds):
    """Fail instead of hanging: a regression of (g) would block in open() or read() for ever."""

    def expire(signum, frame):
        raise AssertionError("still running after %ss" % seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def refused(result, *fragments):
    assert result.get("failed") is True, result
    assert not result.get("changed"), result
    assert "exception" not in result and "Traceback" not in result["msg"]
    for fragment in fragments:
        assert fragment in result["msg"], result["msg"]


def untouched(ws):
    """No command that changes anything reached any fake HAProxy."""
    for fake in ws.haproxy.values():
        assert not [line for line in fake.lines if line.startswith(("set ", "shutdown "))], fake.lines


# -- runtime-API injection in names ---------------------------------------------------------------------------

INJECTIONS = [
    "web1;shutdown sessions server app/web2",
    "web1\nset server app/web2 state maint",
    "web1\n",
    "web 1",
    "web1\x00",
    "web1\r",
]


@pytest.mark.parametrize("name", INJECTIONS)
@pytest.mark.parametrize(
    "module, args",
    [
        (drain_backend, lambda n: dict(LB, server=n)),
        (drain_backend, lambda n: dict(LB, backend=n, server="web1")),
        (switch_traffic, lambda n: dict(LB, servers={n: {"state": "drain"}})),
        (switch_traffic, lambda n: dict(LB, active=["web1"], standby=[n])),
        (switch_traffic, lambda n: dict(LB, backend=n, active=["web1"])),
        (canary_analysis, lambda n: dict(LB, canary_servers=[n], pause=30)),
        (
            surge_handover,
            lambda n: {
                "load_balancer": dict(
                    LB,
                    surge={
                        "slots": [{"name": "a", "port": 8001}, {"name": "b", "port": 8002}],
                        "servers": {"app1": {"a": "web1", "b": n}},
                    },
                ),
                "live": {"app1": "b"},
            },
        ),
    ],
    ids=[
        "drain-server",
        "drain-backend",
        "switch-servers",
        "switch-standby",
        "switch-backend",
        "canary-servers",
        "surge-servers",
    ],
)
def test_names_with_runtime_api_separators_never_reach_haproxy(module, args, name, hostile):
    result, ws = hostile(module, args(name))
    what = "NUL byte" if "\x00" in name else "invalid"
    refused(result, what)
    if what == "invalid":
        assert repr(name) in result["msg"]  # the bad value, as it is
    for fake in ws.haproxy.values():
        assert not any(name.strip() != "web1" and name in line for line in fake.lines), fake.lines
    untouched(ws)


# -- (b) nan, inf, huge and negative numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "module, args, fragment",
    [
        (drain_backend, dict(LB, server="web3", timeout=float("nan")), "timeout=nan is not a finite number"),
        (drain_backend, dict(LB, server="web3", timeout=float("inf")), "timeout=inf is not a finite number"),
        (drain_backend, dict(LB, server="web3", timeout=1e13), "at most 2592000"),
        (drain_backend, dict(LB, server="web3", poll_interval=-1), "poll_interval=-1.0: give more than 0 seconds"),
        (drain_backend, dict(LB, server="web3", api_timeout=float("nan")), "api_timeout=nan"),
        (switch_traffic, dict(LB, active=["web1"], healthy_timeout=float("nan")), "healthy_timeout=nan"),
        (switch_traffic, dict(LB, active=["web1"], api_timeout=float("inf")), "api_timeout=inf"),
        (canary_analysis, dict(LB, canary_servers=["web3"], pause=float("nan")), "pause=nan"),
        (canary_analysis, dict(LB, canary_servers=["web3"], pause=1e13), "pause=10000000000000.0"),
        (canary_analysis, dict(LB, canary_servers=["web3"], pause=1, max_latency_ratio=float("inf")), "ratio=inf"),
        (readiness_probe, {"url": "http://127.0.0.1:9/", "timeout": float("nan")}, "timeout=nan"),
        (readiness_probe, {"url": "http://127.0.0.1:9/", "interval": float("inf")}, "interval=inf"),
        (readiness_probe, {"url": "http://127.0.0.1:9/", "successes": 1000}, "successes=1000"),
        (smoke_test, {"base_url": "http://127.0.0.1:9", "checks": [{"name": "a"}], "rounds": 101}, "rounds=101"),
        (smoke_test, {"base_url": "http://x", "checks": [{"name": "a"}], "request_timeout": -1}, "request_timeout"),
        (deploy_lock, {"app": "shop", "run_id": "r1", "path": TMP + "/state", "ttl": 10**13}, "ttl=10000000000000"),
        (deploy_lock, {"app": "shop", "run_id": "r1", "path": TMP + "/state", "ttl": -5}, "ttl=-5"),
        (
            migration_apply,
            {"path": TMP + "/migrations", "dsn": "sqlite:///" + TMP + "/db.sqlite", "lock_timeout": float("nan")},
            "lock_timeout=nan",
        ),
        (
            migration_apply,
            {"path": TMP + "/migrations", "dsn": "sqlite:///" + TMP + "/db.sqlite", "lock_retries": 10**6},
            "lock_retries=1000000",
        ),
        (
            migration_check,
            {"path": TMP + "/migrations", "dialect": "postgresql", "schema_connect_timeout": float("inf")},
            "schema_connect_timeout=inf",
        ),
        (
            release,
            {"app": "shop", "release": "v1", "state": "pruned", "keep": 10**9, "base_dir": TMP + "/opt"},
            "keep=1000000000",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_numbers_are_finite_and_bounded(module, args, fragment, hostile):
    files = {}
    started = time.monotonic()
    with deadline(20):
        result, ws = hostile(module, args, before=lambda ws: files.update(ws.files()))
    assert time.monotonic() - started < 10
    refused(result, fragment)
    assert "give" in result["msg"]  # and how to fix it
    untouched(ws)
    assert ws.transport.requests == []
    assert ws.files() == files


@pytest.mark.parametrize("text", ["\u0665", "1_0", "\u0661\u0662", "\uff15", "1_000.5", "\u0665e1"])
@pytest.mark.parametrize(
    "module, args, option",
    [
        (drain_backend, lambda t: dict(LB, server="web3", timeout=t), "timeout"),
        (switch_traffic, lambda t: dict(LB, active=["web1"], healthy_timeout=t), "healthy_timeout"),
        (canary_analysis, lambda t: dict(LB, canary_servers=["web3"], pause=t), "pause"),
        (readiness_probe, lambda t: {"url": "http://127.0.0.1:9/", "interval": t}, "interval"),
        (smoke_test, lambda t: {"base_url": "http://x", "checks": [{"name": "a"}], "request_timeout": t}, "timeout"),
        (
            smoke_test,
            lambda t: {"base_url": "http://x", "checks": [{"name": "a", "max_latency_ms": t}]},
            "checks[0].max_latency_ms",
        ),
        (deploy_lock, lambda t: {"app": "shop", "run_id": "r1", "path": TMP + "/state", "ttl": t}, "ttl"),
        (release, lambda t: {"app": "shop", "state": "pruned", "keep": t, "base_dir": TMP + "/opt"}, "keep"),
    ],
    ids=["drain", "switch", "canary", "readiness", "smoke", "smoke-check", "lock", "release"],
)
def test_numbers_in_other_digits_or_with_underscores_are_refused_as_given(module, args, option, text, hostile):
    """Ansible turns '\u0665' into 5 and '1_0' into 10 before the module runs: the task's own text is checked."""
    files = {}
    result, ws = hostile(module, args(text), before=lambda ws: files.update(ws.files()))
    if option in ("ttl", "keep") and ("." in text or "e" in text):
        refused(result)  # an int option: Ansible itself refuses '1_000.5'
        return
    refused(result, "%s=%r is not a number written with the digits 0-9" % (option, text))
    untouched(ws)
    assert ws.transport.requests == [] and ws.files() == files


def test_a_lock_ttl_of_1e13_is_refused_and_takes_no_lock(hostile):
    result, ws = hostile(deploy_lock, {"app": "shop", "run_id": "r1", "path": TMP + "/state", "ttl": 1e13})
    refused(result, "ttl=10000000000000: give a whole number of 1 or more seconds, at most 2592000")
    assert not os.path.exists(os.path.join(ws.root, "state"))


# -- (c) a name with a trailing newline is another name ---------------------------------------------------------


def test_a_second_lock_for_app_newline_is_refused_while_app_is_held(hostile):
    args = {"app": "app", "run_id": "deploy-1", "path": TMP + "/state"}
    first, ws = hostile(deploy_lock, args)
    assert first["changed"] and first["action"] == "create"
    second, ws = hostile(deploy_lock, dict(args, app="app\n", run_id="deploy-2"), ws=ws)
    refused(second, "invalid app 'app\\n'")
    assert os.listdir(os.path.join(ws.root, "state")) == ["app"]
    third, ws = hostile(deploy_lock, dict(args, run_id="deploy-2"), ws=ws)
    refused(third, "is held by", "deploy-1")


def test_a_tracking_table_with_a_trailing_newline_does_not_rerun_every_migration(hostile):
    args = {"path": TMP + "/migrations", "dsn": "sqlite:///" + TMP + "/db.sqlite"}
    first, ws = hostile(migration_apply, args)
    assert first["applied"] == ["001_create.sql", "002_add.sql"], first
    tables = ws.files()
    again, ws = hostile(migration_apply, dict(args, table="zerodown_migrations\n"), ws=ws)
    refused(again, "is not a valid tracking table name")
    assert again["applied"] == [] and ws.files() == tables


# -- (g) migration files: regular files inside the directory ----------------------------------------------------


@pytest.mark.parametrize("module", [migration_check, migration_apply])
@pytest.mark.parametrize(
    "path, fragment",
    [
        (TMP + "/hostile/fifo.sql", "is a FIFO (named pipe), not a regular file"),
        ("/dev/zero", "is a character device, not a regular file"),
        (TMP + "/hostile/passwd.sql", "resolves to /etc/passwd, outside"),
        (TMP + "/hostile", "fifo.sql is a FIFO"),  # the directory: the first of its bad entries
    ],
)
def test_migration_paths_never_block_and_never_print_a_file_outside(module, path, fragment, hostile):
    args = {"path": path}
    args.update({"dialect": "postgresql"} if module is migration_check else {"dsn": "sqlite:///" + TMP + "/db.sqlite"})
    files = {}
    with deadline(10):
        result, ws = hostile(module, args, before=lambda ws: files.update(ws.files()))
    refused(result, fragment)
    with open("/etc/passwd") as handle:
        first_line = handle.readline().strip()
    assert first_line not in str(result)
    assert ws.files() == files


def test_a_symlink_that_stays_inside_the_directory_is_read(hostile):
    def link(ws):
        os.symlink("001_create.sql", os.path.join(ws.root, "migrations", "003_link.sql"))

    result, ws = hostile(migration_check, {"path": TMP + "/migrations", "dialect": "postgresql"}, before=link)
    assert not result.get("failed"), result
    assert [f["path"].rsplit("/", 1)[-1] for f in result["files"]][-1] == "003_link.sql"


# -- (i) regular expressions on bodies and headers, within the deadline -----------------------------------------

CATASTROPHIC = "(a+)+$"
EVIL_BODY = b"a" * 40 + b"b"


def evil(ws):
    ws.transport.body = EVIL_BODY
    ws.transport.headers = dict(ws.transport.headers, Server="a" * 40 + "b")


@pytest.mark.parametrize(
    "module, args",
    [
        (readiness_probe, {"url": "http://127.0.0.1:9/", "body_regex": CATASTROPHIC, "request_timeout": 1}),
        (readiness_probe, {"url": "http://127.0.0.1:9/", "expect_header": {"Server": {"regex": CATASTROPHIC}}}),
        (
            smoke_test,
            {
                "base_url": "http://127.0.0.1:9",
                "request_timeout": 1,
                "checks": [{"name": "x", "body_regex": CATASTROPHIC}],
            },
        ),
    ],
    ids=["readiness-body", "readiness-header", "smoke-body"],
)
def test_a_catastrophic_regex_ends_within_the_deadline(module, args, hostile):
    started = time.monotonic()
    with deadline(60):
        result, ws = hostile(module, dict(args, **({"timeout": 5} if module is readiness_probe else {})), before=evil)
    assert time.monotonic() - started < 30
    refused(result, "did not finish within", "catastrophic backtracking")


# -- (j) Unicode digits and NUL bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize("weight", ["\uff15", "\u0661\u0662", "\uff15%", "1\u0662"])
def test_unicode_digits_in_weights_are_refused(weight, hostile):
    result, ws = hostile(switch_traffic, dict(LB, servers={"web1": {"weight": weight}}))
    refused(result, "invalid weight=%r is not a number written with the digits 0-9" % weight.rstrip("%"))
    untouched(ws)


@pytest.mark.parametrize(
    "module, args, option",
    [
        (migration_apply, {"path": TMP + "/migrations", "dsn": "sqlite:///" + TMP + "/db\x00.sqlite"}, "dsn"),
        (migration_apply, {"path": TMP + "/migra\x00tions", "dsn": "sqlite:///" + TMP + "/db.sqlite"}, "path"),
        (migration_check, {"path": TMP + "/migrations", "dialect": "mysql", "schema_dsn": "mysql://u:p\x00@h/d"}, ""),
        (deploy_lock, {"app": "shop", "run_id": "r\x00", "path": TMP + "/state"}, "run_id"),
        (drain_backend, dict(LB, backend="app\x00", server="web1"), "backend"),
        (release, {"app": "shop", "release": "v1", "base_dir": TMP + "/opt", "artifact": TMP + "/a\x00"}, "artifact"),
    ],
)
def test_nul_bytes_are_refused_naming_the_option_not_the_value(module, args, option, hostile):
    files = {}
    result, ws = hostile(module, args, before=lambda ws: files.update(ws.files()))
    refused(result, "%s holds a NUL byte" % option)
    assert "p\\x00" not in result["msg"]  # the value is not quoted: it may be a secret
    assert ws.files() == files
    untouched(ws)


# -- URLs with odd schemes, '..' and absolute paths -------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://127.0.0.1:70/_x", "javascript:alert(1)", "ftp://h/x", "http:/h", "//h/x"]
)
@pytest.mark.parametrize(
    "module, args",
    [
        (readiness_probe, lambda u: {"url": u}),
        (readiness_probe, lambda u: {"urls": ["http://127.0.0.1:9/", u]}),
        (smoke_test, lambda u: {"base_url": u, "checks": [{"name": "x"}]}),
    ],
    ids=["readiness-url", "readiness-urls", "smoke-base_url"],
)
def test_urls_with_odd_schemes_are_refused_before_any_request(module, args, url, hostile):
    result, ws = hostile(module, args(url))
    refused(result, repr(url))
    assert ws.transport.requests == []


@pytest.mark.parametrize("entry", ["../outside", "/etc", "a/../../b", "", "a//b"])
@pytest.mark.parametrize("option", ["shared_dirs", "shared_files"])
def test_shared_paths_stay_inside_the_release(option, entry, hostile):
    args = dict(RELEASE, checksum="sha256:@SHA@", **{option: [entry]})
    files = {}
    result, ws = hostile(release, args, before=lambda ws: files.update(ws.files()))
    refused(result, "%s entry %r must be a relative path inside the release" % (option, entry))
    assert ws.files() == files and ws.commands == []


@pytest.mark.parametrize("member", ["../evil", "/etc/evil", "app/../../evil"])
def test_artifact_members_leaving_the_release_are_refused(member, hostile):
    def craft(ws):
        with tarfile.open(ws.artifact, "w:gz") as tar:
            info = tarfile.TarInfo(member)
            tar.addfile(info)
        files.update(ws.files())

    files = {}
    result, ws = hostile(release, dict(RELEASE), before=craft)
    refused(result, "escapes the release directory")
    assert not os.path.exists(os.path.join(ws.root, "evil")) and not os.path.exists("/etc/evil")
    leftovers = {k for k in ws.files() if k not in files}
    assert not [k for k in leftovers if "releases/" in k and not k.endswith("releases")], leftovers
    assert ws.commands == []


SHADOW = "root:$6$zdSECRETsalt$hashhashhashhash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"


@pytest.mark.parametrize("content", [SHADOW, "[main]\npassword = zdSECRETvalue\n", "zdSECRET " * 100])
def test_migration_check_quotes_nothing_of_a_file_that_is_not_a_migration(content, hostile):
    """A readable file given as path (/etc/shadow, a config file) is named as not SQL; none of it is printed."""

    def plant(ws):
        with open(os.path.join(ws.root, "shadow"), "w") as handle:
            handle.write(content)

    result, ws = hostile(migration_check, {"path": TMP + "/shadow", "dialect": "postgresql"}, before=plant)
    refused(result, "so none of its content is shown: is it a migration file?")
    shown = str(result)
    assert "zdSECRET" not in shown and "root" not in shown.replace("/root", "") and "ROOT" not in shown, shown
