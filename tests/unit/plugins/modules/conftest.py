"""Running a module's main() in-process against fakes: HAProxy, HTTP, clocks, databases, systemctl, /etc/systemd.

``hostile`` (a fixture) patches every way out of the process, so that a module called with any arguments touches
nothing but its temporary directory and the fakes, never sleeps for real, and its result can be checked for
"nothing changed". Shared by the fuzz suite and the hand-picked hostile-input tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile

import pytest
from ansible.module_utils import urls as ansible_urls
from ansible.module_utils.testing import patch_module_args
from zerodown_testkit.support.fake_clock import FakeClock
from zerodown_testkit.support.fake_haproxy import FakeHAProxy

from ansible_collections.zerodown.deploy.plugins.module_utils import (
    _db,
    _lock,
    _migrate,
    _module,
    _release,
    _schema_catalog,
)
from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import bake as _bake
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import canary as _canary
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as _lb
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import haproxy as _haproxy
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import nginx as _nginx
from ansible_collections.zerodown.deploy.plugins.module_utils.probe import checks as _checks
from ansible_collections.zerodown.deploy.plugins.module_utils.probe import transport as _transport

SOCKET = "/run/haproxy/admin.sock"
TMP = "@TMP@"  # stands for the example's temporary directory in generated arguments
#: A release call that installs the workspace's artifact.
RELEASE = {
    "app": "shop",
    "release": "v1",
    "state": "current",
    "base_dir": TMP + "/opt",
    "artifact": TMP + "/artifact.tar.gz",
}


class JumpingClock(FakeClock):
    """Fake time that never sleeps and covers even a 30-day timeout in a few dozen steps."""

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += max(seconds, validate.MAX_SECONDS / 40.0)


class FakeTransport:
    """Every HTTP request gets the same healthy answer; TCP connects succeed."""

    def __init__(self):
        self.requests = []

    body = b'{"status": "ok", "version": "v1"}'
    headers = {"X-App-Version": "v1", "Content-Type": "application/json"}

    def http(self, spec, timeout):
        self.requests.append((spec.method, spec.url, timeout))
        return _transport.RawResponse(200, dict(self.headers), self.body)

    def tcp(self, host, port, timeout):
        self.requests.append(("TCP", host, port, timeout))


class Workspace:
    """One example's world: a temporary directory with fixtures, the fake load balancers, what ran."""

    def __init__(self, root):
        self.root = root
        self.haproxy = {}
        self.commands = []
        self.transport = FakeTransport()
        os.makedirs(os.path.join(root, "migrations"))
        with open(os.path.join(root, "migrations", "001_create.sql"), "w") as handle:
            handle.write("CREATE TABLE items (id integer PRIMARY KEY, name text);\n")
        with open(os.path.join(root, "migrations", "002_add.sql"), "w") as handle:
            handle.write("ALTER TABLE items ADD COLUMN note text;\n")
        hostile = os.path.join(root, "hostile")
        os.makedirs(hostile)
        os.mkfifo(os.path.join(hostile, "fifo.sql"))
        os.symlink("/etc/passwd", os.path.join(hostile, "passwd.sql"))
        with open(os.path.join(hostile, "ok.sql"), "w") as handle:
            handle.write("SELECT 1;\n")
        payload = os.path.join(root, "payload")
        os.makedirs(payload)
        with open(os.path.join(payload, "VERSION"), "w") as handle:
            handle.write("v1\n")
        self.artifact = os.path.join(root, "artifact.tar.gz")
        with tarfile.open(self.artifact, "w:gz") as tar:
            tar.add(payload, arcname="app")
        with open(self.artifact, "rb") as handle:
            self.sha256 = hashlib.sha256(handle.read()).hexdigest()
        sqlite3.connect(os.path.join(root, "db.sqlite")).close()
        os.makedirs(os.path.join(root, "systemd"))

    def expand(self, value):
        if isinstance(value, str):
            return value.replace(TMP, self.root).replace("@SHA@", self.sha256)
        if isinstance(value, list):
            return [self.expand(v) for v in value]
        if isinstance(value, dict):
            return {self.expand(k): self.expand(v) for k, v in value.items()}
        return value

    def factory(self, kind, target, timeout):
        fake = self.haproxy.setdefault(str(target), FakeHAProxy(sessions={"web3": 2}))
        return fake(kind, target, timeout)

    def lb_state(self):
        return {address: fake.state() for address, fake in self.haproxy.items()}

    def files(self):
        """Every path under the root with its type and content digest (FIFOs are never opened)."""
        out = {}
        for top, dirs, names in os.walk(self.root):
            for name in dirs + names:
                path = os.path.join(top, name)
                info = os.lstat(path)
                entry = (info.st_mode,)
                if os.path.isfile(path) and not os.path.islink(path):
                    with open(path, "rb") as handle:
                        entry += (hashlib.sha256(handle.read()).hexdigest(),)
                elif os.path.islink(path):
                    entry += (os.readlink(path),)
                out[os.path.relpath(path, self.root)] = entry
        out.update(self._database())
        return out

    def _database(self):
        conn = sqlite3.connect(os.path.join(self.root, "db.sqlite"))
        try:
            return {"db:" + row[0]: row[1] for row in conn.execute("SELECT name, sql FROM sqlite_master")}
        finally:
            conn.close()


@pytest.fixture
def hostile(monkeypatch):
    """``hostile(module, args)`` -> (result, workspace): main() run with the fakes in a fresh temporary directory."""
    state = {}

    def socket_factory(kind, target, timeout):
        return state["ws"].factory(kind, target, timeout)  # the workspace of the call running now

    monkeypatch.setattr(_haproxy, "_default_socket_factory", socket_factory)
    monkeypatch.setattr(_checks, "UrllibTransport", lambda: state["ws"].transport)
    for module in (_checks, _lb, _canary, _bake, _nginx, _migrate, _db):
        monkeypatch.setattr(module, "Clock", JumpingClock)
    monkeypatch.setattr(_schema_catalog, "read_catalog", _no_database)

    def connect(spec, connect_timeout=10, read_only=False, create=True):
        if spec.dialect == "sqlite" and os.path.realpath(spec.path).startswith(state["ws"].root + "/"):
            return _db.connect(spec, connect_timeout, read_only, create)
        raise _db.DatabaseError("no database server in the unit tests (%s)" % spec.describe())

    monkeypatch.setattr(_migrate, "connect", connect)
    monkeypatch.setattr(_release, "ReleaseEngine", lambda *a, **kw: _release_engine(state["ws"], *a, **kw))
    monkeypatch.setattr(ansible_urls, "open_url", _no_network)  # the release module imports it when it downloads

    def run_command(module_self, args, **kwargs):
        state["ws"].commands.append(list(args))
        return 0, "", ""

    monkeypatch.setattr(_module.AnsibleModule, "run_command", run_command)  # what run_module hands the engines
    real_ensure = _lock.StateDir.ensure

    def ensure(state_dir):
        # A lock or ledger path left at its default (/var/lib/zerodown) must not be written by a test.
        if not _within(state["ws"], state_dir.path):
            raise OSError(errno.EACCES, "outside the test workspace", state_dir.path)
        return real_ensure(state_dir)

    monkeypatch.setattr(_lock.StateDir, "ensure", ensure)

    def run(module, args, check_mode=False, before=None, ws=None):
        """``ws``: run in the workspace of an earlier call (its files, load balancers and database)."""
        if ws is None:
            if "ws" in state:
                _rmtree(state["ws"].root)
            root = tempfile.mkdtemp(prefix="zd-hostile-")
            ws = Workspace(os.path.realpath(root))
        state["ws"] = ws
        args = ws.expand(args)
        if before is not None:
            before(ws)
        if check_mode:
            args["_ansible_check_mode"] = True
        out = io.StringIO()
        cwd = os.getcwd()
        os.chdir(ws.root)  # a relative path in the arguments stays in the workspace
        try:
            with patch_module_args(args), contextlib.redirect_stdout(out):
                try:
                    module.main()
                except SystemExit:
                    pass
                else:
                    raise AssertionError("%s returned without exit_json or fail_json" % module.__name__)
        finally:
            os.chdir(cwd)
        return json.loads(out.getvalue()), ws

    yield run
    if "ws" in state:
        _rmtree(state["ws"].root)


def _rmtree(root):
    import shutil

    shutil.rmtree(root, ignore_errors=True)


def _no_database(*args, **kwargs):
    raise _schema_catalog.CatalogError("no database server in the unit tests")


def _no_network(url, **kwargs):
    raise OSError("no network in the unit tests: %s" % url)


_RealReleaseEngine = _release.ReleaseEngine


def _within(ws, path):
    return os.path.realpath(path).startswith(ws.root + "/")


def _release_engine(ws, tree, *args, **kwargs):
    if not _within(ws, tree.root):  # base_dir left at its default (/opt) must not be written by a test
        raise _release.ReleaseError("base_dir %s is outside the test workspace" % tree.root)
    unit = kwargs.get("unit", _release.Unit())
    if unit.unit_dir == _release.Unit.unit_dir:
        kwargs["unit"] = dataclasses.replace(unit, unit_dir=os.path.join(ws.root, "systemd"))  # never /etc/systemd
    return _RealReleaseEngine(tree, *args, **kwargs)
