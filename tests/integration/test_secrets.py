"""Known secrets given to the modules never appear in anything they print or write.

Each module runs through real Ansible at -vvv (the result in full: invocation, diff, warnings) with a
password holding '@' and ':', an Authorization header, a URL with user:pass and a request body carrying
the password, on passing and on failing paths (refused options, unreachable servers, failed checks against a
server that echoes back every header and the body it got). Every line Ansible printed, and for
deploy_ledger / deploy_lock every file they wrote, is searched for each secret and pieces of it.
"""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path
from urllib.parse import quote

import pytest
from zerodown_testkit.support.ansible_run import run_module_output
from zerodown_testkit.support.http_server import Response, serve

PASSWORD = "Pw@zd:s3cr3t-7Q"
TOKEN = "tok-SECRET-8c1f2e"
AUTHORIZATION = "Bearer " + TOKEN
USER = "zduser"
SECRETS = {
    "password": PASSWORD,
    "password, percent-encoded": quote(PASSWORD, safe=""),
    "a piece of the password": "s3cr3t-7Q",
    "another piece": "zd:s3cr3t",
    "the token": TOKEN,
    "the Basic credential": base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode(),
}
# where an echoed body is cut to a snippet, not even the start of a secret may be left
SECRETS["the start of the Basic credential"] = SECRETS["the Basic credential"][:16]
SECRETS["the start of the token"] = TOKEN[:10]


def _leaks(text: str) -> list:
    return [name for name, secret in SECRETS.items() if secret in text]


def _run(name, args, files=(), check=False, expect_failed=None):
    result, output = run_module_output(name, args, check=check, diff=True, verbosity=3)
    where = {"ansible output": output}
    for path in files:
        for found in sorted(Path(path).parent.glob(Path(path).name + "*")):
            where[str(found)] = found.read_text(errors="replace")
    leaked = {place: _leaks(text) for place, text in where.items() if _leaks(text)}
    assert not leaked, "secrets leaked by %s %s: %s\n%s" % (name, json.dumps(args)[:300], leaked, output[-3000:])
    if expect_failed is not None:
        assert result["failed"] is expect_failed, result
    return result


def _echo(req):
    """A server that fails every request and sends back all it got: headers (the Basic credential too) and body."""
    echoed = {"path": req.path, "headers": dict(req.headers), "body": req.body.decode("utf-8", "replace")}
    return Response(503, {"Content-Type": "application/json"}, json.dumps(echoed).encode())


def _ok(req):
    return Response(200, {"X-App-Version": "2"}, b'{"status": "ok"}')


@pytest.fixture
def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _with_user_info(url):
    return url.replace("://", "://%s:%s@" % (USER, PASSWORD), 1)


def test_readiness_probe(closed_port):
    with serve(_ok) as ok, serve(_echo) as echo:
        passed = _run(
            "readiness_probe",
            {"url": _with_user_info(ok.url) + "/health", "headers": {"Authorization": AUTHORIZATION}, "timeout": 5},
            expect_failed=False,
        )
        assert passed["results"][0]["url"] == "http://********@%s/health" % ok.url[len("http://") :]
        # an Authorization header given explicitly wins over the URL's user-info (as curl's -H does)
        assert ok.requests[0].headers["Authorization"] == AUTHORIZATION
        _run("readiness_probe", {"url": _with_user_info(ok.url) + "/health", "timeout": 5}, expect_failed=False)
        # what is hidden is still sent: the user-info as Basic
        assert ok.requests[-1].headers["Authorization"] == "Basic " + SECRETS["the Basic credential"]
        _run("readiness_probe", {"url": ok.url, "headers": {"Authorization": AUTHORIZATION}}, expect_failed=False)
        assert ok.requests[-1].headers["Authorization"] == AUTHORIZATION
        failed = _run(
            "readiness_probe",
            {"urls": [_with_user_info(echo.url) + "/ready", _with_user_info(echo.url) + "/ready?x=1"], "timeout": 1},
            expect_failed=True,
        )
        assert "Basic" in echo.requests[0].headers["Authorization"] and "503" in failed["msg"]
    _run("readiness_probe", {"url": "http://%s:%s@127.0.0.1:%d/" % (USER, PASSWORD, closed_port), "timeout": 1})
    for bad in ("http://%s:%s@127.0.0.1:99999/" % (USER, PASSWORD), "ftp://%s:%s@h/" % (USER, PASSWORD)):
        _run("readiness_probe", {"url": bad}, expect_failed=True)
    _run("readiness_probe", {"urls": [_with_user_info("http://h/x")] * 2}, expect_failed=True)


def test_smoke_test(closed_port):
    checks = [
        {"name": "login", "path": "/login", "method": "POST", "body": {"user": USER, "password": PASSWORD}},
        {"name": "home", "path": "/", "headers": {"Authorization": AUTHORIZATION}},
    ]
    with serve(_ok) as ok, serve(_echo) as echo:
        base = {"headers": {"Authorization": AUTHORIZATION}, "checks": checks}
        passed = _run("smoke_test", dict(base, base_url=_with_user_info(ok.url)), expect_failed=False)
        assert passed["passed"] and json.loads(ok.requests[0].body)["password"] == PASSWORD
        failed = _run("smoke_test", dict(base, base_url=_with_user_info(echo.url), rounds=2), expect_failed=True)
        assert "2 of 2 check(s) failed" in failed["msg"]
        _run("smoke_test", dict(base, base_url=_with_user_info(echo.url)), check=True)
    _run(
        "smoke_test",
        {"base_url": "http://%s:%s@127.0.0.1:%d" % (USER, PASSWORD, closed_port), "checks": checks},
        expect_failed=True,
    )
    for bad in (
        {"base_url": "ftp://%s:%s@h" % (USER, PASSWORD), "checks": checks},
        {"base_url": "http://h", "checks": [{"name": "x", "path": _with_user_info("http://h/x")}]},
        {"base_url": _with_user_info("http://h"), "checks": [{"name": "x", "status_codes": [99]}]},
    ):
        _run("smoke_test", bad, expect_failed=True)


def _migrations(tmp_path):
    directory = tmp_path / "migrations"
    directory.mkdir(exist_ok=True)
    (directory / "001_init.sql").write_text("CREATE TABLE zd_secret_probe (id INT);\n")
    return str(directory)


@pytest.mark.parametrize(
    "connection",
    [
        {"dsn": "postgresql://postgres:%s@127.0.0.1:5432/zd_no_such_db" % PASSWORD},
        {"dsn": "postgresql://postgres@127.0.0.1:5432/zd_no_such_db", "password": PASSWORD},
        {"dsn": "mysql://root:%s@127.0.0.1:3306/zd_no_such_db" % quote(PASSWORD, safe="")},
        {"dsn": "postgresql://postgres:%s@127.0.0.1:99999/x" % PASSWORD},
        {"dsn": "postgresql://postgres:Pw@zd/s3cr3t-7Q@127.0.0.1/x"},
        {"dsn": "host=127.0.0.1 password='%s" % PASSWORD, "dialect": "postgresql"},
        {"dsn": "host=127.0.0.1 password=Pw@zd s3cr3t-7Q dbname=x", "dialect": "postgresql"},
        {"dsn": "postgresql://postgres:%s@127.0.0.1:1/x" % PASSWORD, "connect_timeout": 2},
    ],
)
def test_migration_apply(tmp_path, connection):
    result = _run("migration_apply", dict(connection, path=_migrations(tmp_path)), expect_failed=True)
    assert result["msg"]


def test_migration_check_schema_dsn(tmp_path):
    for dsn in (
        "postgresql://postgres:%s@127.0.0.1:1/x" % PASSWORD,
        "postgresql://postgres:%s@127.0.0.1:99999/x" % PASSWORD,
        "postgresql://postgres:%s@127.0.0.1:5432/zd_no_such_db" % PASSWORD,
    ):
        _run(
            "migration_check",
            {"path": _migrations(tmp_path), "dialect": "postgresql", "schema_dsn": dsn, "schema_connect_timeout": 2},
            expect_failed=True,
        )


def test_release_download_url(tmp_path, closed_port):
    base = {"app": "shop", "release": "v1", "state": "present", "base_dir": str(tmp_path / "opt")}
    url = "http://%s:%s@127.0.0.1:%d/shop.tar.gz" % (USER, PASSWORD, closed_port)
    failed = _run("release", dict(base, url=url, checksum="0" * 64), expect_failed=True)
    assert "could not download http://********@127.0.0.1" in failed["msg"]
    _run("release", dict(base, url="ftp://%s:%s@h/a.tgz" % (USER, PASSWORD), checksum="0" * 64), expect_failed=True)


def test_deploy_ledger_and_deploy_lock_write_no_secret(tmp_path):
    state = tmp_path / "state"
    ledger_files = [state / "shop" / "ledger.json", state / "shop" / "ledger.previous.json"]
    lock_files = [state / "shop" / "deploy.lock", state / "shop" / "audit.log"]
    dsn = "postgresql://app:%s@db1:5432/shop" % PASSWORD
    common = {"app": "shop", "path": str(state)}
    plan = {"entry_url": _with_user_info("https://shop.example.com"), "migrations": {"dsn": dsn}}
    lock = dict(common, run_id="run-1", owner="https://ci:%s@ci.example/job/7" % PASSWORD, release="v2")
    for check in (True, False):
        _run("deploy_lock", lock, files=lock_files, check=check, expect_failed=False)
        _run(
            "deploy_ledger",
            dict(common, state="started", run_id="run-1", release="v2", plan=plan),
            files=ledger_files,
            check=check,
            expect_failed=False,
        )
    _run("deploy_lock", dict(lock, state="refreshed"), files=lock_files, expect_failed=False)
    refused = _run("deploy_lock", dict(lock, run_id="run-2"), files=lock_files, expect_failed=True)
    assert "https://********@ci.example/job/7" in refused["msg"]
    _run(
        "deploy_ledger",
        dict(common, run_id="run-1", phase="migrate", hosts={"app1": {"status": "failed", "current": dsn}}),
        files=ledger_files,
        expect_failed=False,
    )
    finished = _run(
        "deploy_ledger",
        dict(common, state="finished", run_id="run-1", outcome="failed", cause="cannot connect to %s" % dsn),
        files=ledger_files,
        expect_failed=False,
    )
    assert finished["ledger"]["cause"] == "cannot connect to postgresql://app:********@db1:5432/shop"
    _run("deploy_ledger", dict(common, state="started", run_id="run-2", plan=plan), files=ledger_files)
    _run("deploy_ledger", dict(common, state="query"), files=ledger_files, expect_failed=False)
    _run("deploy_lock", dict(lock, state="released", force=True, run_id=None), files=lock_files, expect_failed=False)
    assert all(p.exists() for p in ledger_files) and (state / "shop" / "audit.log").exists()


QUERY_TOKEN = "qtok-SECRET-55aa9"


@pytest.mark.parametrize("param", ["token", "api_key", "access_token", "secret", "X-Amz-Signature"])
def test_credentials_in_url_query_strings_are_not_printed(param, closed_port):
    """A credential passed as a query parameter is masked like a URL password: in results, messages, echoes."""
    SECRETS["a query-string credential"] = QUERY_TOKEN
    try:
        query = "?%s=%s&page=2" % (param, QUERY_TOKEN)
        with serve(_ok) as ok, serve(_echo) as echo:
            passed = _run("readiness_probe", {"url": ok.url + "/health" + query, "timeout": 5}, expect_failed=False)
            assert passed["results"][0]["url"] == "%s/health?%s=********&page=2" % (ok.url, param)
            assert ok.requests[0].path.endswith(query)  # what is hidden is still sent
            _run("readiness_probe", {"url": echo.url + "/ready" + query, "timeout": 1}, expect_failed=True)
            _run(
                "smoke_test",
                {"base_url": echo.url, "checks": [{"name": "q", "path": "/x" + query}]},
                expect_failed=True,
            )
        _run("readiness_probe", {"url": "http://127.0.0.1:%d/%s" % (closed_port, query), "timeout": 1})
        base = {"app": "shop", "release": "v1", "state": "present", "base_dir": "/nonexistent/zd"}
        url = "http://127.0.0.1:%d/shop.tar.gz%s" % (closed_port, query)
        _run("release", dict(base, url=url, checksum="0" * 64), expect_failed=True)
    finally:
        del SECRETS["a query-string credential"]
