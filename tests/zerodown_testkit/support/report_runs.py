"""Synthetic runs for the deploy report: the events ``zerodown.deploy.deploy_report`` records, built the way the
callback builds them (task start, host start, result through ``safe_result``), for the task names, modules and
results the deploy playbook and the strategy roles produce.

``rolling_success()``, ``rolled_back()``, ``canary_run()`` and ``migration_blocked()`` each return the event list;
``write(events, directory)`` renders it with the callback's own writer and returns the HTML path.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

from ansible_collections.zerodown.deploy.plugins.plugin_utils._report import build_report, safe_result
from ansible_collections.zerodown.deploy.plugins.plugin_utils._report_html import write_report

SOCK = "/run/haproxy/admin.sock"
APP_HOSTS = ["app1", "app2", "app3", "app4"]
#: What a task's invocation holds in a real result; safe_result must drop it (tests look for it in the files).
SECRET = "s3cret-db-password"


class Run:
    """Events on a fake clock: ``task()`` emits the task start, each host's start and its result."""

    def __init__(self, t0: float = 1_800_000_000.0) -> None:
        self.t = t0
        self.events: List[Dict[str, Any]] = []
        self.n = 0

    def play(self, name: str) -> None:
        self.events.append({"type": "play", "at": self.t, "name": name})

    def task(
        self,
        name: str,
        module: str,
        results: Dict[str, Optional[Dict[str, Any]]],
        seconds: float = 0.5,
        path: str = "",
        failed: Iterable[str] = (),
        ignored: bool = False,
    ) -> None:
        """``results``: host -> raw result (None: skipped on that host)."""
        self.n += 1
        uuid = "task-%04d" % self.n
        self.events.append({"type": "task", "at": self.t, "id": uuid, "name": name, "module": module, "path": path})
        for host in results:
            self.events.append({"type": "host_start", "at": self.t + 0.01, "id": uuid, "host": host})
        self.t += seconds
        for host, raw in results.items():
            status = "skipped" if raw is None else "failed" if host in failed else "ok"
            raw = dict(raw or {"skipped": True})
            raw.setdefault("invocation", {"module_args": {"password": SECRET, "dsn": "postgresql://app:x@db1/app"}})
            self.events.append(
                {
                    "type": "result",
                    "at": self.t,
                    "id": uuid,
                    "host": host,
                    "status": status,
                    "ignored": ignored,
                    "result": safe_result(module, raw),
                }
            )
        self.t += 0.05


def lb(states: Dict[str, Any]) -> Dict[str, Any]:
    return {SOCK: {s: {"state": st, "weight": w} for s, (st, w) in states.items()}}


def drained(server: str, seconds: float, sessions: int) -> Dict[str, Any]:
    """One drain_backend loop item: ``server`` drained on lb1 in ``seconds``, ``sessions`` in flight at its start."""
    return {
        "item": "lb1",
        "previous": lb({server: ("ready", 10)}),
        "current": lb({server: ("drain", 10)}),
        "drain_seconds": seconds,
        "sessions_at_start": sessions,
        "killed_sessions": 0,
        "timed_out": False,
    }


def switched(previous: str, current: str, stop: float, ready: float) -> Dict[str, Any]:
    """A release module result of a host call that moved ``current``: stop, switch, start, then ready."""
    return {
        "changed": True,
        "previous": previous,
        "current": current,
        "actions": ["switch", "restart"],
        "seconds": {"stop": stop, "switch": 0.01, "start": 0.1},
        "ready": {"ready": True, "elapsed": ready},
    }


def plan(app_hosts: List[str], servers: Dict[str, str], strategy: str = "rolling") -> Dict[str, Any]:
    return {
        "changed": False,
        "ansible_facts": {
            "zerodown_plan": {
                "run_id": "20261201T120000-ab12",
                "app": "shop",
                "release": "v2",
                "strategy": strategy,
                "app_hosts": app_hosts,
                "lb_hosts": ["lb1"],
                "batches": [[h] for h in app_hosts],
                "servers": servers,
                "lock_host": "lb1",
                "artifact": {"src": "/srv/artifacts/shop-v2.tgz"},
                "entry_url": "http://user:tokenpass@lb1/",
            }
        },
    }


def ledger(hosts: Dict[str, Dict[str, Any]], outcome: str = "running", cause=None, steps=None, phases=None):
    return {
        "changed": False,
        "ledger": {
            "app": "shop",
            "run_id": "20261201T120000-ab12",
            "release": "v2",
            "outcome": outcome,
            "cause": cause,
            "started_epoch": 1_800_000_000.5,
            "duration": 42.0 if outcome != "running" else None,
            "hosts": hosts,
            "batches": [{"batch": i + 1, "hosts": [h]} for i, h in enumerate(sorted(hosts))],
            "phases": phases or [{"name": "stage", "started_epoch": 1_800_000_000.5, "ended_epoch": None}],
            "steps": steps or [],
            "lb_state": lb({s["server"]: ("ready", 10) for s in hosts.values()}),
            "plan": {"artifact": {"src": "/srv/artifacts/shop-v2.tgz"}},
        },
        "summary": {"zerodown_outcome": outcome, "zerodown_phase_seconds": {"stage": 3.0, "batch 1": 4.0}},
    }


def _start(run: Run, hosts: List[str], servers: Dict[str, str], strategy: str = "rolling") -> None:
    run.play("Zerodown deploy | plan, lock, preflight (nothing changes if this fails)")
    first = hosts[0]
    run.task(
        "Plan - validate every deploy variable, compute batches, servers, load balancer, lock host",
        "zerodown.deploy.deploy_plan",
        {first: plan(hosts, servers, strategy)},
    )
    run.task(
        "Take the deploy lock, read the load balancer (every server must exist), start the ledger with its state",
        "zerodown.deploy.deploy_lock",
        {first: dict(ledger({h: {"server": servers[h], "previous": "v1"} for h in hosts}), held=True)},
    )
    run.play("Zerodown deploy | stage the release on every app host (no downtime)")
    run.task(
        "Stage the release (send if needed, verify, unpack, unit; current untouched)",
        "zerodown.deploy.release",
        {
            h: {
                "changed": True,
                "previous": "v1",
                "current": "v1",
                "actions": ["unpack"],
                "ansible_facts": {"zerodown_release_state": {"host": h, "release": "v2", "previous": "v1"}},
            }
            for h in hosts
        },
        seconds=3.0,
    )


def _states(servers: Dict[str, str], **override: Any) -> Dict[str, Any]:
    return lb({s: override.get(s, ("ready", 10)) for s in servers.values()})


def _drain_first(run: Run, hosts: List[str], servers: Dict[str, str], host: str) -> None:
    run.task(
        "Drain the first batch's servers, recorded in the ledger first (one call per load balancer)",
        "zerodown.deploy.drain_backend",
        {hosts[0]: {"changed": True, "results": [drained(servers[host], 0.8, 2)]}},
        seconds=1.0,
        path="/c/roles/rolling/tasks/batch_drain.yml:4",
    )


def _batch(
    run: Run,
    hosts: List[str],
    servers: Dict[str, str],
    host: str,
    fail: Optional[str] = None,
    first: bool = False,
    next_host: Optional[str] = None,
) -> None:
    """One rolling batch as the role runs it: (the first batch's drain,) the host call, then the handover - one
    drain_backend call that puts ``host`` back into the pool and drains ``next_host`` (none after the last batch)."""
    server = servers[host]
    if first:
        _drain_first(run, hosts, servers, host)
    result = switched("v1", "v2", stop=0.4, ready=1.2)
    if fail:
        result = dict(result, msg=fail, ready={"ready": False, "elapsed": 2.0, "broken": "unit failed (exit 1)"})
    run.task(
        "Stop, point current at the release, start, wait until ready on the host (one call per host)",
        "zerodown.deploy.release",
        {h: (result if h == host else None) for h in hosts},
        seconds=2.5,
        path="/c/roles/rolling/tasks/batch_switch.yml:2",
        failed=[host] if fail else [],
    )
    if fail:
        return
    item = drained(servers[next_host], 0.8, 2) if next_host else {"item": "lb1", "previous": {}, "current": {}}
    item["previous"] = {SOCK: dict(item["previous"].get(SOCK, {}), **{server: {"state": "drain", "weight": 10}})}
    item["current"] = {SOCK: dict(item["current"].get(SOCK, {}), **{server: {"state": "ready", "weight": 10}})}
    if not next_host:
        item.update(drain_seconds=0.0, sessions_at_start=0, killed_sessions=0, timed_out=False)
    run.task(
        "Back into the pool, and drain the next batch's servers, recorded in the ledger (one call per load balancer)",
        "zerodown.deploy.drain_backend",
        {hosts[0]: {"changed": True, "results": [item]}},
        seconds=1.2 if next_host else 0.4,
        path="/c/roles/rolling/tasks/batch_handover.yml:5",
    )


def _batches(run: Run, hosts: List[str], servers: Dict[str, str], moving: List[str]) -> None:
    for i, host in enumerate(moving):
        _batch(run, hosts, servers, host, first=i == 0, next_host=moving[i + 1] if i + 1 < len(moving) else None)


def tally_step(servers: Dict[str, Dict[str, int]]) -> Dict[str, Any]:
    """The ledger step canary_analysis state=tally records: what each server did during the deploy."""
    keys = ("requests", "failed", "http_5xx", "connection_errors", "response_errors", "retries", "redispatches")
    per_server = {name: dict(dict.fromkeys(keys, 0), **counts) for name, counts in servers.items()}
    total = {key: sum(c[key] for c in per_server.values()) for key in keys}
    return {"name": "tally", "measured": True, "reason": None, "total": total, "servers": per_server, "seconds": 40.0}


def _finish(run: Run, hosts: Dict[str, Dict[str, Any]], outcome: str, cause=None, steps=None, tally=None) -> None:
    run.play("Zerodown deploy | ledger, unlock, summary")
    first = sorted(hosts)[0]
    if tally is not None:
        result = {k: tally[k] for k in ("measured", "reason", "total", "servers", "seconds")}
        run.task(
            "Failed requests - what the load balancer counted since the counters before the deploy (never fails)",
            "zerodown.deploy.canary_analysis",
            {first: dict(result, changed=False)},
        )
        steps = list(steps or []) + [tally]
    phases = [
        {"name": "stage", "started_epoch": 1_800_000_000.5, "ended_epoch": 1_800_000_004.0, "seconds": 3.5},
        {"name": "batch 1", "started_epoch": 1_800_000_004.0, "ended_epoch": run.t, "seconds": run.t - 1_800_000_004},
    ]
    run.task(
        "Finish the ledger and release the deploy lock",
        "zerodown.deploy.deploy_lock",
        {first: dict(ledger(hosts, outcome, cause, steps, phases), held=False)},
    )


SERVERS = {h: h for h in APP_HOSTS}


def rolling_success(strategy: str = "rolling", tallied: bool = False) -> List[Dict[str, Any]]:
    """Four hosts, one per batch, v1 -> v2, everything passes (``tallied``: the deploy counted its requests)."""
    run = Run()
    _start(run, APP_HOSTS, SERVERS, strategy=strategy)
    run.play("Zerodown deploy | strategy")
    _batches(run, APP_HOSTS, SERVERS, APP_HOSTS)
    run.play("Zerodown deploy | smoke test and bake window through the load balancer")
    run.task(
        "Production checks through the load balancer",
        "zerodown.deploy.smoke_test",
        {"app1": {"passed": True, "elapsed": 0.3, "failed_checks": [], "checks": [{"name": "health", "passed": True}]}},
    )
    run.play("Zerodown rollback | return every moved host, restore each load balancer")
    _finish(
        run,
        {h: {"server": h, "previous": "v1", "current": "v2", "status": "moved"} for h in APP_HOSTS},
        "succeeded",
        tally=tally_step({h: {"requests": 1000 + i} for i, h in enumerate(APP_HOSTS)}) if tallied else None,
    )
    return run.events


ROLLBACK_CAUSE = (
    "app3: Stop, point current at the release, start, wait until ready on the host (one call per host): "
    "shop.service failed (exit status 1) before it answered ready"
)


def rolled_back() -> List[Dict[str, Any]]:
    """Batches 1 and 2 move, app3's release never answers ready: every moved host goes back, last batch first."""
    run = Run()
    _start(run, APP_HOSTS, SERVERS)
    run.play("Zerodown deploy | strategy")
    _batch(run, APP_HOSTS, SERVERS, "app1", first=True, next_host="app2")
    _batch(run, APP_HOSTS, SERVERS, "app2", next_host="app3")
    _batch(run, APP_HOSTS, SERVERS, "app3", fail="shop.service failed (exit status 1) before it answered ready")
    hosts = {h: {"server": h, "previous": "v1", "current": "v2", "status": "moved"} for h in ("app1", "app2")}
    hosts["app3"] = {"server": "app3", "previous": "v1", "current": "v2", "status": "switching"}
    hosts["app4"] = {"server": "app4", "previous": "v1", "current": "v1", "status": "staged"}
    run.task(
        "Remember why the deploy stops, on every host of the deploy",
        "ansible.builtin.set_fact",
        {"app3": {"changed": False}},
    )
    run.task(
        "Record the cause in the ledger",
        "zerodown.deploy.deploy_ledger",
        {"app3": ledger(hosts, "running", ROLLBACK_CAUSE)},
        path="/c/playbooks/tasks/abort.yml:20",
    )
    run.play("Zerodown rollback | return every moved host, restore each load balancer")
    for host in ("app3", "app2", "app1"):
        run.task(
            "Drain the servers of the rollback batch (one call per load balancer)",
            "zerodown.deploy.drain_backend",
            {"app1": {"results": [drained(host, 0.5, 1)]}},
            path="/c/roles/rolling/tasks/rollback_batch.yml:2",
        )
        run.task(
            "Back to the release the host ran before, or remove a first release (one call per host)",
            "zerodown.deploy.release",
            {h: (switched("v2", "v1", stop=0.3, ready=0.9) if h == host else None) for h in APP_HOSTS},
            seconds=1.5,
            path="/c/roles/rolling/tasks/rollback_batch.yml:30",
        )
        run.task(
            "Returned servers back into the pool, removed ones out (maint), recorded (one call per load balancer)",
            "zerodown.deploy.switch_traffic",
            {
                "app1": {
                    "results": [
                        {
                            "current": _states(SERVERS),
                            "changes": {SOCK: {host: {"state": "ready"}}},
                        }
                    ]
                }
            },
            path="/c/roles/rolling/tasks/rollback_batch.yml:50",
        )
    back = {
        h: {"server": h, "previous": "v1", "current": "v1", "status": "rolled_back"} for h in ("app1", "app2", "app3")
    }
    back["app4"] = hosts["app4"]
    # app3 answered 5xx through the load balancer before the rollback; one request met a closed connection
    tally = tally_step(
        {
            "app1": {"requests": 900},
            "app2": {"requests": 880, "retries": 1, "redispatches": 1},
            "app3": {"requests": 300, "failed": 13, "http_5xx": 12, "response_errors": 1},
            "app4": {"requests": 910},
        }
    )
    _finish(run, back, "rolled_back", ROLLBACK_CAUSE, tally=tally)
    run.task(
        "Fail with the cause",
        "ansible.builtin.fail",
        {
            "app1": {
                "failed": True,
                "msg": "deploy of v2 failed and was rolled back (rollback completed): " + ROLLBACK_CAUSE,
            }
        },
        failed=["app1"],
    )
    return run.events


CANARY_SERVERS = {"app1": "web1", "app2": "web2", "app3": "web3", "app4": "web4"}


def _analysis(name: str, percent: int, canary_requests: int, baseline_requests: int) -> Dict[str, Any]:
    return {
        "name": name,
        "percent": percent,
        "verdict": "pass",
        "reason": "canary error rate 0.00 %% (0 of %d) is not above the baseline's" % canary_requests,
        "failures": [],
        "canary": {"requests": canary_requests, "errors": 0, "error_rate": 0.0, "latency_ms": 12.5},
        "baseline": {
            "requests": baseline_requests,
            "errors": 1,
            "error_rate": 1 / baseline_requests,
            "latency_ms": 12.0,
        },
        "latency_ratio": 1.04,
        "thresholds": {"min_requests": 100, "max_error_rate": 0.01, "max_latency_ratio": 1.5},
        "canary_servers": ["web1"],
        "baseline_servers": ["web2", "web3", "web4"],
        "step_seconds": 5.0,
        "waited_seconds": 5.0,
    }


def canary_run() -> List[Dict[str, Any]]:
    """app1 (server web1) is the canary: steps 10 % and 50 %, both pass, then the rest in rolling batches."""
    run = Run()
    _start(run, APP_HOSTS, CANARY_SERVERS, strategy="canary")
    run.play("Zerodown deploy | strategy")
    run.task(
        "Take the canary hosts out of the pool, recorded in the ledger first",
        "zerodown.deploy.drain_backend",
        {"app1": {"results": [drained("web1", 0.6, 3)]}},
        path="/c/roles/canary/tasks/main.yml:40",
    )
    run.task(
        "Stop, point current at the release, start, wait until ready on this host (one call)",
        "zerodown.deploy.release",
        {
            "app1": switched("v1", "v2", stop=0.4, ready=1.0),
            "app2": None,
            "app3": None,
            "app4": None,
        },
        seconds=2.0,
        path="/c/roles/release/tasks/switch.yml:2",
    )
    run.task(
        "The load balancer's counters before the first step",
        "zerodown.deploy.canary_analysis",
        {"app1": {"snapshot": {"version": 1, "source": "haproxy", "load_balancers": {}}}},
    )
    steps = []
    for name, percent, weight, canary_n, base_n in (("10%", 10, 1, 150, 1350), ("50%", 50, 10, 900, 900)):
        run.task(
            "Shift the canary share (weights, one call per load balancer)",
            "zerodown.deploy.switch_traffic",
            {
                "app1": {
                    "results": [
                        {
                            "current": _states(CANARY_SERVERS, web1=("ready", weight), web2=("ready", 3)),
                            "changes": {SOCK: {"web1": {"state": "ready", "weight": weight}} if percent == 10 else {}},
                        }
                    ]
                }
            },
            path="/c/roles/canary/tasks/canary_step.yml:2",
        )
        analysis = _analysis(name, percent, canary_n, base_n)
        result = {k: v for k, v in analysis.items() if k not in ("name", "percent")}
        result["servers"] = {
            "web1": {"requests": canary_n, "errors": 0},
            "web2": {"requests": base_n // 3, "errors": 1},
            "web3": {"requests": base_n // 3, "errors": 0},
            "web4": {"requests": base_n - 2 * (base_n // 3), "errors": 0},
        }
        result["snapshot"] = {"version": 1, "source": "haproxy", "load_balancers": {}}
        run.task(
            "Judge the step from the counters - canary against baseline (recorded in the ledger)",
            "zerodown.deploy.canary_analysis",
            {"app1": result},
            seconds=5.0,
            path="/c/roles/canary/tasks/canary_step.yml:10",
        )
        steps.append(analysis)
    run.task(
        "Promote - every server back to its captured weight, the canary hosts recorded as moved",
        "zerodown.deploy.switch_traffic",
        {"app1": {"results": [{"current": _states(CANARY_SERVERS), "changes": {SOCK: {"web1": {"weight": 10}}}}]}},
        path="/c/roles/canary/tasks/main.yml:120",
    )
    _batches(run, APP_HOSTS, CANARY_SERVERS, ["app2", "app3", "app4"])
    hosts = {h: {"server": s, "previous": "v1", "current": "v2", "status": "moved"} for h, s in CANARY_SERVERS.items()}
    _finish(run, hosts, "succeeded", steps=steps)
    return run.events


MIGRATION_FINDING = {
    "file": "migrations/0042_drop_email.sql",
    "line": 3,
    "statement": "ALTER TABLE users DROP COLUMN email",
    "rule": "drop_column",
    "severity": "error",
    "message": "drops column users.email while the old version still reads or writes it",
    "remedy": "Release code that no longer reads or writes the column first; drop it in a later contract migration.",
    "waived": False,
    "waiver_reason": None,
    # what migration_check returns for this statement (test_deploy_report.py asserts it is the engine's own)
    "rewrite": {
        "sql": "",
        "files": [
            {
                "name": "0042_drop_email.contract.safe.sql",
                "runs": "contract",
                "sql": "-- zerodown:contract\nALTER TABLE users DROP COLUMN email;\n",
            }
        ],
        "note": "nothing to expand: the new release stops using column users.email, and the statement itself waits "
        "for contract.yml, which runs it once no host runs the old version",
    },
}


def migration_blocked() -> List[Dict[str, Any]]:
    """The preflight's migration check finds a drop_column: the deploy is refused, nothing staged."""
    run = Run()
    run.play("Zerodown deploy | plan, lock, preflight (nothing changes if this fails)")
    run.task("Plan", "zerodown.deploy.deploy_plan", {"app1": plan(APP_HOSTS, SERVERS)})
    run.task(
        "Take the deploy lock, read the load balancer (every server must exist), start the ledger with its state",
        "zerodown.deploy.deploy_lock",
        {"app1": ledger({})},
    )
    run.task(
        "Check that the pending migrations are backward compatible (the files that ran are their history)",
        "zerodown.deploy.migration_check",
        {
            "app1": {
                "compatible": False,
                "files": [{"path": MIGRATION_FINDING["file"], "compatible": False, "contract": False, "findings": []}],
                "findings": [MIGRATION_FINDING],
                "report_lines": ["..."],
            }
        },
        path="/c/roles/migrate/tasks/files_check.yml:9",
    )
    run.task(
        "Preflight failed",
        "ansible.builtin.fail",
        {"app1": {"failed": True, "msg": "preflight failed, nothing was changed: migration blocked: drop_column"}},
        failed=["app1"],
    )
    return run.events


RUNS = {
    "rolling_success": rolling_success,
    "rolled_back": rolled_back,
    "canary_run": canary_run,
    "migration_blocked": migration_blocked,
}


def report_of(name: str) -> Dict[str, Any]:
    return build_report(RUNS[name]())


def write(name: str, directory: str) -> str:
    """Render one of RUNS with the callback's writer into ``directory``; the HTML file's path."""
    return write_report(report_of(name), directory, name)


def ledger_query(plan_run_id: Optional[str] = None) -> List[Dict[str, Any]]:
    """A later run that reads the ledger of the rolled-back deploy (state=query): with ``plan_run_id``, a standalone
    rollback with a plan (and run id) of its own, which then finishes that ledger; without, a query alone."""
    run = Run(t0=1_800_000_500.0)
    run.play("Zerodown rollback")
    if plan_run_id:
        rollback_plan = plan(APP_HOSTS, SERVERS)
        rollback_plan["ansible_facts"]["zerodown_plan"]["run_id"] = plan_run_id
        run.task("Plan the rollback", "zerodown.deploy.deploy_plan", {"lb1": rollback_plan})
    hosts = {h: {"server": h, "previous": "v1", "current": "v2", "status": "moved"} for h in ("app1", "app2")}
    queried = dict(ledger(hosts, "running", ROLLBACK_CAUSE), rollback={"hosts": ["app2", "app1"]})
    del queried["summary"]
    run.task("Read the ledger", "zerodown.deploy.deploy_ledger", {"lb1": queried})
    if plan_run_id:
        run.task("Finish the ledger", "zerodown.deploy.deploy_ledger", {"lb1": ledger(hosts, "rolled_back")})
    return run.events
