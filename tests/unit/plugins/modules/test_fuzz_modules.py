"""Property-based fuzzing of every module's argument spec, and of the deploy plan's variables.

Each module's own argument_spec (captured from its main()) drives the generator: every option gets values of
its type and of the wrong types, empty and huge values, unicode and NUL bytes, names with runtime-API
separators, paths that are FIFOs, devices, symlinks out or '..', numbers that are nan, inf, negative or 1e13.
An example starts from a call that works against the fakes and replaces or drops a few options, so that it
gets past the argument parsing into the module's own code.

The property: main() ends through exit_json or fail_json with a JSON result (never an exception, never a
traceback in the result), and when it fails without saying ``changed``, nothing changed: the fake HAProxy's
servers, the files of the temporary directory and the SQLite database are as they were.

Deterministic (derandomize, no example database) so that CI sees the same examples every run.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from unittest import mock

import pytest
from conftest import RELEASE, SOCKET, TMP
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.zerodown.deploy.plugins.module_utils import _module, _plan

MAX_EXAMPLES = 100
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)

NASTY_TEXT = [
    "",
    " ",
    "app",
    "web1",
    "app\n",
    "web1;shutdown sessions server app/web1",
    "web1\nset server app/web2 state maint",
    "a\x00b",
    "x" * 5000,
    "..",
    "../../etc/passwd",
    "/etc/passwd",
    "\uff15",
    "\u0661\u0662",
    "\u202eevil",
    "http://127.0.0.1:9/health",
    "https://user:secret@127.0.0.1:9/",
    "tcp://127.0.0.1:9",
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/",
    "javascript:alert(1)",
    "(a+)+$",
    "[",
    "sqlite:///" + TMP + "/db.sqlite",
    "postgresql://u:p@127.0.0.1:1/db",
    "50%",
    "nan",
    "1e13",
]
NASTY_PATHS = [
    "",
    TMP,
    TMP + "/migrations",
    TMP + "/migrations/001_create.sql",
    TMP + "/hostile",
    TMP + "/hostile/fifo.sql",
    TMP + "/hostile/passwd.sql",
    TMP + "/migrations/../migrations",
    TMP + "/state",
    TMP + "/artifact.tar.gz",
    TMP + "/a\x00b",
    "relative/dir",
    "/dev/zero",
    "/etc/passwd",
]
NASTY_INTS = [0, 1, -1, 3, 100, 101, 65536, 10**13, 2**63]
NASTY_FLOATS = [0.0, -1.0, 0.001, 1.0, 30.0, 1e13, math.nan, math.inf, -math.inf, 5e-324]


def texts():
    return st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=12))


def scalars():
    return st.one_of(texts(), st.sampled_from(NASTY_INTS), st.sampled_from(NASTY_FLOATS), st.booleans(), st.none())


def anything():
    return st.recursive(
        scalars(), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts(), inner, max_size=3), max_leaves=6
    )


def value_for(spec):
    """Values for one option: mostly of its type (and its choices), sometimes of any type."""
    kind = spec.get("type", "str")
    if kind == "list":
        element = dict(type=spec.get("elements", "str"), options=spec.get("options"))
        typed = st.lists(value_for(element), max_size=3)
    elif kind == "dict" and spec.get("options"):
        typed = options_dict(spec["options"])
    else:
        typed = {
            "str": texts(),
            "int": st.one_of(st.sampled_from(NASTY_INTS), st.integers()),
            "float": st.one_of(st.sampled_from(NASTY_FLOATS), st.floats()),
            "bool": st.booleans(),
            "path": st.sampled_from(NASTY_PATHS),
            "dict": st.dictionaries(texts(), anything(), max_size=3),
            "raw": anything(),
        }.get(kind, anything())
    if spec.get("choices"):
        typed = st.one_of(st.sampled_from(list(spec["choices"])), typed)
    other = anything().filter(lambda v: not _crashes_ansible_core(spec, v))
    return st.one_of(typed, typed, typed, other)


def _crashes_ansible_core(spec, value):
    """Values that ansible-core 2.19's own argument parsing raises on, inside AnsibleModule(), before any line of
    a module runs (so no module can turn them into fail_json): a number or a list of numbers given to an option
    with sub-options (set_fallbacks does ``param in <int>``), and infinity given to an int option
    (check_type_int: OverflowError)."""
    if spec.get("options"):
        items = value if isinstance(value, list) and spec.get("type") == "list" else [value]
        return not all(v is None or isinstance(v, dict) or (isinstance(v, str) and v) for v in items)
    if "int" in (spec.get("type"), spec.get("elements")):
        return _has_infinity(value)
    return False


def _has_infinity(value):
    if isinstance(value, float):
        return math.isinf(value)
    if isinstance(value, (list, tuple)):
        return any(_has_infinity(v) for v in value)
    if isinstance(value, dict):
        return any(_has_infinity(v) for v in value.values())
    return False


def options_dict(options):
    names = sorted(options)
    return st.fixed_dictionaries({}, optional={n: value_for(options[n]) for n in names})


class _Captured(Exception):
    pass


def argument_spec(module):
    """The argument_spec the module's main() hands to AnsibleModule."""
    seen = {}

    def capture(*args, **kwargs):
        seen.update(kwargs)
        raise _Captured

    # the module wrapper builds AnsibleModule for converted modules; a module that still builds its own is patched too
    with mock.patch.object(_module, "AnsibleModule", capture), contextlib.ExitStack() as stack:
        if hasattr(module, "AnsibleModule"):
            stack.enter_context(mock.patch.object(module, "AnsibleModule", capture))
        with pytest.raises(_Captured):
            module.main()
    return seen["argument_spec"]


LB = {"socket": [SOCKET], "backend": "app"}
# A call of each module that works against the fakes; each example changes a few of its options.
BASELINE_ARGS = {
    "drain_backend": dict(LB, server="web1"),
    "switch_traffic": dict(LB, servers={"web1": {"weight": 5}, "web2": {"state": "drain"}}),
    # the fake's servers listen on 8000 + their rank: web1 and web2 are one host's two slots
    "surge_handover": {
        "load_balancer": dict(
            LB,
            surge={
                "slots": [{"name": "a", "port": 8001}, {"name": "b", "port": 8002}],
                "servers": {"app1": {"a": "web1", "b": "web2"}},
            },
        ),
        "live": {"app1": "b"},
    },
    "canary_analysis": dict(LB, canary_servers=["web3"], pause=30),
    "blue_green_state": {"load_balancer": LB, "colours": {"blue": ["h1"], "green": ["h2"]}},
    "deploy_lock": {"app": "shop", "run_id": "run-1", "path": TMP + "/state"},
    "deploy_ledger": {"app": "shop", "run_id": "run-1", "state": "started", "path": TMP + "/state"},
    "readiness_probe": {"url": "http://127.0.0.1:9/health", "body_regex": "ok"},
    "smoke_test": {"base_url": "http://127.0.0.1:9", "checks": [{"name": "home", "path": "/", "body_regex": "ok"}]},
    "release": dict(RELEASE, checksum="sha256:@SHA@"),
    "migration_apply": {"path": TMP + "/migrations", "dsn": "sqlite:///" + TMP + "/db.sqlite"},
    "migration_check": {"path": TMP + "/migrations", "dialect": "postgresql"},
    "host_requirements": {
        "needs": {
            "python": "3.8",
            "sockets": [SOCKET],
            "disk": {"path": TMP + "/opt/shop", "release": "v2", "unpacked_bytes": 10, "artifact_bytes": 1},
        }
    },
}
BASELINES = {
    importlib.import_module("ansible_collections.zerodown.deploy.plugins.modules." + name): args
    for name, args in BASELINE_ARGS.items()
}
MODULES = {module.__name__.rsplit(".", 1)[-1]: module for module in BASELINES}
# Options that stay as the baseline has them: where a module may write (a default of /var/lib/zerodown or /opt
# would leave the workspace; the fixture refuses those writes, and an example that only hits that guard is wasted).
PINNED = {MODULES["deploy_lock"]: {"path"}, MODULES["deploy_ledger"]: {"path"}, MODULES["release"]: {"base_dir"}}


def mutations(module):
    spec = argument_spec(module)
    names = sorted(set(spec) - PINNED.get(module, set()))
    # One or two options at a time: more, and most examples stop at the argument checks of ansible-core.
    change = st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True).flatmap(
        lambda chosen: st.fixed_dictionaries({n: value_for(spec[n]) for n in chosen})
    )
    drop = st.sets(st.sampled_from(sorted(set(BASELINES[module]) - PINNED.get(module, set()))), max_size=1)
    return st.tuples(change, drop, st.booleans())


def check_property(module, result, ws, before_files):
    assert isinstance(result, dict)
    assert "exception" not in result, result.get("exception")
    assert "Traceback" not in result.get("msg", ""), result["msg"]
    if result.get("failed"):
        assert isinstance(result.get("msg"), str) and result["msg"]
        if not result.get("changed"):
            for address, fake in ws.haproxy.items():
                assert all(server["admin"] == 0 and server["weight"] == 10 for server in fake.servers.values()), (
                    "%s failed without changed, yet HAProxy %s moved: %s (%s)"
                    % (module.__name__, address, fake.servers, result["msg"])
                )
            assert ws.files() == before_files, "%s failed without changed, yet files changed: %s" % (
                module.__name__,
                result["msg"],
            )


@pytest.mark.parametrize("module", list(BASELINES), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_module_survives_fuzzed_arguments(module, hostile):
    @FUZZ
    @given(mutations(module))
    def fuzz(mutation):
        change, drop, check_mode = mutation
        args = dict(BASELINES[module])
        for name in drop:
            args.pop(name, None)
        args.update(change)
        files = {}

        def snapshot(ws):
            files.update(ws.files())

        result, ws = hostile(module, args, check_mode=check_mode, before=snapshot)
        check_property(module, result, ws, files)

    fuzz()


def test_every_module_is_fuzzed():
    import pkgutil

    from ansible_collections.zerodown.deploy.plugins import modules

    shipped = {m.name for m in pkgutil.iter_modules(modules.__path__)} - {"deploy_plan"}  # deploy_plan: below
    assert shipped == {m.__name__.rsplit(".", 1)[-1] for m in BASELINES}


# -- the deploy plan (an action plugin: its decisions are _plan.build_plan, a pure function) ----------------------

PLAN_VARIABLES = sorted(
    set(_plan.DEFAULTS)
    | set(_plan.LEGACY_LB_VARS)
    | {"zerodown_app_name", "zerodown_release", "zerodown_lb", "zerodown_artifact", "zerodown_exec_start"}
    | {"zerodown_smoke_base_url", "zerodown_migrations_src", "zerodown_hook_before_switch", "zerodown_lb_port"}
)
PLAN_BASE = {
    "zerodown_app_name": "shop",
    "zerodown_release": "v2",
    "zerodown_exec_start": "bin/shop",
    "zerodown_artifact": "https://example.invalid/shop.tar.gz",
    "zerodown_artifact_checksum": "0" * 64,
    "zerodown_lb": {"backend": "app"},
}


@FUZZ
@given(
    st.fixed_dictionaries({}, optional={n: anything() for n in PLAN_VARIABLES}),
    st.sampled_from(["deploy", "rollback", "contract"]),
    st.sampled_from(["rolling", "blue_green", "canary"]),
)
def test_deploy_plan_survives_fuzzed_variables(change, mode, strategy):
    variables = dict(PLAN_BASE, zerodown_strategy=strategy)
    variables.update(change)
    try:
        plan = _plan.build_plan(
            variables,
            mode,
            ["app1", "app2", "app3", "app4"],
            ["lb1"],
            [],
            {},
            {"run_id": "r", "owner": "o", "controller": "c"},
            lambda path: "0" * 64,
            groups={"blue": ["app1", "app2"], "green": ["app3", "app4"]},
        )
    except _plan.PlanError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        return
    assert 1 <= plan["lock_ttl"] <= 30 * 24 * 3600
    for value in plan["timeouts"].values():
        assert math.isfinite(value) and value > 0
