"""The deploy report from recorded runs: the data (plugin_utils/_report.py), the HTML's hooks, and the callback's
own events, fed plain dicts (tests/zerodown_testkit/support/report_runs.py)."""

from __future__ import annotations

import html
import json
import re
from types import SimpleNamespace

import pytest
from zerodown_testkit.support import report_runs as runs
from zerodown_testkit.support.report_browser import ReportBrowserError, ReportView, report_env, report_path

from ansible_collections.zerodown.deploy.plugins.callback import deploy_report
from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import analyze_sql
from ansible_collections.zerodown.deploy.plugins.plugin_utils import _report as report_data
from ansible_collections.zerodown.deploy.plugins.plugin_utils._report_html import render, report_base_name

BATCH = ["stage", "drain", "stop", "switch", "start", "ready", "enable"]


def rows(report):
    return {row["host"]: [s["phase"] for s in row["segments"]] for row in report["timeline"]["hosts"]}


def view(report):
    return ReportView(render(report))


# -- a successful 4-host rolling run --


def test_rolling_run_one_row_per_host_with_every_batch_phase_in_order():
    report = runs.report_of("rolling_success")
    assert rows(report) == {h: BATCH for h in runs.APP_HOSTS}
    assert report["summary"]["outcome"] == "succeeded" and report["summary"]["cause"] is None
    assert report["summary"]["strategy"] == "rolling" and report["summary"]["release"] == "v2"
    page = view(report)
    assert page.hosts() == runs.APP_HOSTS
    assert page.phases("app2") == BATCH and page.failed_phases("app2") == []
    assert page.cause() is None and page.outcome() == "succeeded"


def test_rolling_run_batches_follow_each_other():
    report = runs.report_of("rolling_success")
    drains = [next(s for s in row["segments"] if s["phase"] == "drain") for row in report["timeline"]["hosts"]]
    assert [d["start"] for d in drains] == sorted(d["start"] for d in drains)
    enable1 = next(s for s in report["timeline"]["hosts"][0]["segments"] if s["phase"] == "enable")
    assert enable1["start"] == drains[1]["start"]  # batch 1 comes back in the call that drains batch 2


def test_sub_phases_of_the_host_call_come_from_its_seconds_and_ready_elapsed():
    report = runs.report_of("rolling_success")
    seg = {s["phase"]: s for s in report["timeline"]["hosts"][0]["segments"]}
    assert seg["ready"]["end"] - seg["ready"]["start"] == pytest.approx(1.2, abs=0.01)
    assert seg["stop"]["end"] == pytest.approx(seg["switch"]["start"], abs=0.001)
    assert seg["stop"]["seconds"] == 0.4


def test_load_balancer_states_over_time_and_drain_timings():
    report = runs.report_of("rolling_success")
    (lb,) = report["load_balancers"]
    assert lb["id"] == runs.SOCK
    app1 = next(s for s in lb["servers"] if s["server"] == "app1")
    assert [p["state"] for p in app1["states"]] == ["ready", "drain", "ready"]
    assert [d["hosts"] for d in report["drains"]] == [[h] for h in runs.APP_HOSTS]
    assert report["drains"][0]["drain_seconds"] == 0.8 and report["drains"][0]["sessions_at_start"] == 2
    assert [p["host"] for p in report["probes"]] == runs.APP_HOSTS
    assert view(report).lb_states("app1") == ["ready", "drain", "ready"]


def test_without_counters_the_share_is_the_weights_and_says_so():
    report = runs.report_of("rolling_success")
    traffic = report["traffic"]
    assert traffic["measured"] == [] and "not measured" in traffic["note"]
    shares = [p["share"] for p in traffic["configured"]]
    assert shares[0] == {"v1": 1.0} and shares[-1] == {"v2": 1.0}
    assert {"v1": 0.3333, "v2": 0.6667} in shares  # two of four hosts moved, the third drained in the same call
    assert report["summary"]["failed_requests"]["known"] is False
    assert "not measured" in render(report)


# -- a rolled-back run with a cause --


def test_rolled_back_run_shows_the_cause_and_the_rollback_per_host():
    report = runs.report_of("rolled_back")
    assert report["summary"]["outcome"] == "rolled_back"
    assert report["summary"]["cause"] == runs.ROLLBACK_CAUSE
    phases = rows(report)
    assert phases["app1"] == BATCH + ["rollback"] * 6
    assert phases["app3"] == BATCH[:-1] + ["rollback"] * 6  # never enabled: its release did not become ready
    assert phases["app4"] == ["stage"]
    page = view(report)
    assert page.cause() == runs.ROLLBACK_CAUSE and page.outcome() == "rolled_back"
    assert page.failed_phases("app3") == ["ready"]
    assert page.phases("app3", rollback=True) == ["drain", "stop", "switch", "start", "ready", "enable"]
    assert page.phases("app3", rollback=False) == BATCH[:-1]


def test_rollback_order_is_the_last_batch_first():
    report = runs.report_of("rolled_back")
    first_rollback = {
        row["host"]: next(s["start"] for s in row["segments"] if s["rollback"])
        for row in report["timeline"]["hosts"]
        if any(s["rollback"] for s in row["segments"])
    }
    assert sorted(first_rollback, key=first_rollback.get) == ["app3", "app2", "app1"]
    assert [d["rollback"] for d in report["drains"]] == [False] * 3 + [True] * 3
    assert report["failures"][0]["host"] == "app3"


def test_the_cause_is_escaped_in_the_page():
    report = runs.report_of("rolled_back")
    report["summary"]["cause"] = "app1: <script>alert(1)</script> & more"
    page = render(report)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert ReportView(page).cause() == "app1: <script>alert(1)</script> & more"


# -- a canary run with step analyses --


def test_canary_steps_are_named_from_the_ledger_and_measured_per_release():
    report = runs.report_of("canary_run")
    steps = report["canary_steps"]
    assert [(s["name"], s["percent"], s["verdict"]) for s in steps] == [("10%", 10, "pass"), ("50%", 50, "pass")]
    assert steps[0]["canary"]["requests"] == 150 and steps[0]["latency_ratio"] == 1.04
    measured = report["traffic"]["measured"]
    assert [m["share"] for m in measured] == [{"v1": 0.9, "v2": 0.1}, {"v1": 0.5, "v2": 0.5}]
    fr = report["summary"]["failed_requests"]
    assert (fr["known"], fr["count"], fr["requests"]) == (True, 2, 3300)
    assert fr["source"] == "errors the load balancer counted over the measured windows (canary steps, bake window)"
    assert fr["windows"] == {"count": 2, "requests": 3300}
    assert fr["reason"] == report_data.NOT_TALLIED and fr["servers"] == {}  # no tally over the whole deploy
    assert rows(report)["app1"].count("canary") == 2  # the canary host's row shows each judged step


def test_canary_servers_map_to_inventory_hosts():
    report = runs.report_of("canary_run")
    (lb,) = report["load_balancers"]
    assert {s["server"]: s["host"] for s in lb["servers"]} == {v: k for k, v in runs.CANARY_SERVERS.items()}
    page = view(report)
    assert page.hosts() == runs.APP_HOSTS
    assert '<table id="canary-steps">' in page.dom and "Measured" in page.dom
    # measured over the steps, and the serving weights over the whole run
    assert 'data-source="measured"' in page.dom and 'data-source="configured"' in page.dom


# -- a run with migration findings --


def test_migration_findings_with_rule_and_remedy():
    report = runs.report_of("migration_blocked")
    assert report["migration"]["compatible"] is False
    (finding,) = report["migration"]["findings"]
    assert finding["rule"] == "drop_column" and finding["remedy"] == runs.MIGRATION_FINDING["remedy"]
    assert report["summary"]["outcome"] == "failed"
    assert report["summary"]["cause"].endswith("preflight failed, nothing was changed: migration blocked: drop_column")
    page = view(report)
    assert page.text("migration-findings").count("drop_column") == 1
    assert "contract migration" in page.text("migration-findings")
    assert page.hosts() == runs.APP_HOSTS and all(page.phases(h) == [] for h in runs.APP_HOSTS)


def test_a_blocked_migration_shows_its_safe_rewrite_beside_the_finding():
    engine = analyze_sql(runs.MIGRATION_FINDING["statement"] + ";\n", "postgresql", runs.MIGRATION_FINDING["file"])
    (finding,) = engine.findings
    assert finding.rewrite == runs.MIGRATION_FINDING["rewrite"], "the recorded run holds what the engine returns"
    report = runs.report_of("migration_blocked")
    assert report["migration"]["findings"][0]["rewrite"] == finding.rewrite
    page = view(report)
    assert "safe rewrite" in page.text("migration-findings")
    cells = re.findall(r'<td class="rewrite"><p>(.*?)</p><pre>(.*?)</pre></td>', page.dom, re.S)
    assert cells == [
        (
            html.escape(finding.rewrite["note"]),
            html.escape(
                "-- save as 0042_drop_email.contract.safe.sql\n-- zerodown:contract\nALTER TABLE users DROP COLUMN email;"
            ),
        )
    ]


def test_a_finding_without_a_rewrite_shows_a_dash_in_its_place():
    report = runs.report_of("migration_blocked")
    report["migration"]["findings"][0]["rewrite"] = None
    page = view(report)
    assert '<td class="rewrite">' not in page.dom and "safe rewrite" in page.text("migration-findings")


# -- what never gets into the report --


@pytest.mark.parametrize("name", sorted(runs.RUNS))
def test_no_module_argument_or_credential_in_the_files(tmp_path, name):
    path = runs.write(name, str(tmp_path))
    for text in (open(path).read(), open(path[: -len(".html")] + ".json").read()):
        assert runs.SECRET not in text and "module_args" not in text and "invocation" not in text
        assert "tokenpass" not in text and "/srv/artifacts" not in text
    assert "<script" not in open(path).read() and "http://" not in open(path).read().replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )


def test_no_log_results_stay_censored():
    raw = {"_ansible_no_log": True, "ledger": {"cause": "secret"}, "msg": "password is hunter2"}
    assert report_data.safe_result("zerodown.deploy.deploy_ledger", raw) == {"censored": True}
    loop = {"results": [{"censored": "hidden", "_ansible_no_log": True}, {"msg": "ok", "drain_seconds": 1.0}]}
    assert report_data.safe_result("zerodown.deploy.drain_backend", loop)["results"] == [
        {"censored": True},
        {"msg": "ok", "drain_seconds": 1.0},
    ]
    run = runs.Run()
    run.task("Secret", "zerodown.deploy.deploy_ledger", {"app1": raw})
    report = report_data.build_report(run.events)
    assert report["summary"]["censored_results"] == 1 and "hunter2" not in json.dumps(report)


def test_safe_result_masks_credentials_and_keeps_only_known_fields():
    raw = {
        "msg": "GET http://admin:pw123@lb1/health failed; password=hunter2",
        "ready": True,
        "elapsed": 1.0,
        "results": [{"url": "https://tok:en@app1/health", "headers": {"Authorization": "Bearer x"}}],
        "invocation": {"module_args": {"url": "x"}},
        "_ansible_verbose_always": True,
    }
    out = report_data.safe_result("zerodown.deploy.readiness_probe", raw)
    text = json.dumps(out)
    assert "pw123" not in text and "hunter2" not in text and "tok:en" not in text and "Bearer" not in text
    assert "invocation" not in out and "_ansible_verbose_always" not in out
    assert report_data.safe_result("ansible.builtin.command", {"stdout": "secret", "msg": "x"}) == {"msg": "x"}


def test_other_modules_count_only_by_name():
    assert report_data.module_name("zerodown.deploy.release") == "release"
    assert report_data.module_name("zerodown.deploy.unknown") is None
    assert report_data.module_name("ansible.builtin.debug") is None
    assert report_data.build_report([])["zerodown_tasks"] == 0


def test_file_names_are_safe():
    report = runs.report_of("rolling_success")
    assert report_base_name(report) == "shop-20261201T120000-ab12"
    assert report_base_name(report, "../../etc/x y") == "etc_x_y"


# -- the callback itself: thin, and never fails the run --


class FakeDisplay:
    verbosity = 0

    def __init__(self):
        self.lines, self.warnings = [], []

    def display(self, msg, *args, **kwargs):
        self.lines.append(msg)

    def warning(self, msg, *args, **kwargs):
        self.warnings.append(msg)

    def __getattr__(self, name):
        return lambda *a, **k: None


class FakeTask:
    def __init__(self, name, action, uuid):
        self._uuid, self.action, self.resolved_action, self._name = uuid, action, action, name

    def get_name(self):
        return self._name

    def get_path(self):
        return "/c/roles/rolling/tasks/batch.yml:2"


class FakeHost:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


def make_callback(tmp_path, **options):
    display = FakeDisplay()
    cb = deploy_report.CallbackModule(display=display)
    opts = {"report_dir": str(tmp_path), "report_name": "", "always": False}
    opts.update(options)
    cb.get_option = opts.get
    return cb, display


def replay(cb, events):
    """Drive the callback's own methods with the run's events."""
    tasks = {}
    for event in events:
        if event["type"] == "play":
            cb.v2_playbook_on_play_start(SimpleNamespace(get_name=lambda n=event["name"]: n))
        elif event["type"] == "task":
            tasks[event["id"]] = FakeTask(event["name"], event["module"], event["id"])
            cb.v2_playbook_on_task_start(tasks[event["id"]], False)
        elif event["type"] == "host_start":
            cb.v2_runner_on_start(FakeHost(event["host"]), tasks[event["id"]])
        elif event["type"] == "result":
            result = SimpleNamespace(
                _result=dict(event["result"]), _host=FakeHost(event["host"]), _task=tasks[event["id"]]
            )
            method = {
                "ok": cb.v2_runner_on_ok,
                "failed": cb.v2_runner_on_failed,
                "skipped": cb.v2_runner_on_skipped,
                "unreachable": cb.v2_runner_on_unreachable,
            }[event["status"]]
            method(result)
    cb.v2_playbook_on_stats(None)


def test_the_callback_writes_both_files_and_prints_the_path(tmp_path):
    cb, display = make_callback(tmp_path)
    replay(cb, runs.rolled_back())
    html = tmp_path / "shop-20261201T120000-ab12.html"
    assert display.lines == ["deploy report: %s" % html]
    assert display.warnings == []
    data = json.loads((tmp_path / "shop-20261201T120000-ab12.json").read_text())
    assert data["summary"]["cause"] == runs.ROLLBACK_CAUSE
    assert ReportView(html.read_text()).cause() == runs.ROLLBACK_CAUSE
    assert [s["phase"] for s in data["timeline"]["hosts"][0]["segments"]][:7] == BATCH


@pytest.mark.parametrize("under_runner", [True, False])
def test_without_report_dir_the_report_goes_to_the_runner_artifacts_or_the_working_directory(
    tmp_path, monkeypatch, under_runner
):
    """ansible-runner (AWX, an execution environment) names the job's artifacts directory in AWX_ISOLATED_DATA_DIR."""
    artifacts, cwd = tmp_path / "artifacts" / "job-1", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    if under_runner:
        monkeypatch.setenv("AWX_ISOLATED_DATA_DIR", str(artifacts))
    else:
        monkeypatch.delenv("AWX_ISOLATED_DATA_DIR", raising=False)
    cb, display = make_callback(tmp_path, report_dir="")
    replay(cb, runs.rolled_back())
    expected = (artifacts if under_runner else cwd) / "zerodown-reports" / "shop-20261201T120000-ab12.html"
    assert display.lines == ["deploy report: %s" % expected] and expected.exists()
    assert expected.with_suffix(".json").exists()


def test_a_run_without_the_collection_gets_no_report_unless_always(tmp_path):
    cb, display = make_callback(tmp_path)
    replay(cb, [])
    assert display.lines == ["deploy report: none (no zerodown.deploy module ran)"] and not list(tmp_path.iterdir())
    cb, display = make_callback(tmp_path, always=True, report_name="mine")
    replay(cb, [])
    assert display.lines == ["deploy report: %s" % (tmp_path / "mine.html")]


def test_an_error_in_the_report_is_a_warning_not_a_failure(tmp_path, monkeypatch):
    cb, display = make_callback(tmp_path / "file-not-dir")
    (tmp_path / "file-not-dir").write_text("")  # the report directory cannot be created
    replay(cb, runs.rolling_success())
    assert display.lines == []
    (warning,) = display.warnings
    assert warning.startswith("deploy report: v2_playbook_on_stats failed (") and "the run is not affected" in warning
    cb, display = make_callback(tmp_path)
    cb.v2_runner_on_ok(object())  # not a task result at all
    cb.v2_runner_on_ok(object())
    assert len(display.warnings) == 1  # once per method


def test_the_testkit_reads_the_path_the_callback_prints(tmp_path):
    cb, display = make_callback(tmp_path)
    replay(cb, runs.rolling_success())
    output = "PLAY RECAP ***\napp1 : ok=3\n" + "\n".join(display.lines) + "\n"
    assert report_path(output) == str(tmp_path / "shop-20261201T120000-ab12.html")
    assert report_env("/r") == {
        "ANSIBLE_CALLBACKS_ENABLED": "zerodown.deploy.deploy_report",
        "ZERODOWN_REPORT_DIR": "/r",
    }
    with pytest.raises(ReportBrowserError, match="no deploy report"):
        report_path("deploy report: none (no zerodown.deploy module ran)\n")
    with pytest.raises(ReportBrowserError, match="enabled"):
        report_path("PLAY RECAP\n")


@pytest.mark.parametrize("plan_run_id", [None, "20261201T121500-cd34"])
def test_a_later_run_that_reads_a_deploys_ledger_never_overwrites_that_deploys_report(tmp_path, plan_run_id):
    """A ledger query (or a standalone rollback finishing that ledger) writes a report of its own."""
    cb, _display = make_callback(tmp_path)
    replay(cb, runs.rolled_back())
    deploy_files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(deploy_files) == ["shop-20261201T120000-ab12.html", "shop-20261201T120000-ab12.json"]
    cb, display = make_callback(tmp_path)
    replay(cb, runs.ledger_query(plan_run_id))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name in deploy_files} == deploy_files
    (written,) = [p for p in tmp_path.glob("*.json") if p.name not in deploy_files]
    summary = json.loads(written.read_text())["summary"]
    assert summary["run_id"] == plan_run_id and summary["ledger_run_id"] == "20261201T120000-ab12"
    assert display.lines == ["deploy report: %s" % written.with_suffix(".html")]
    if plan_run_id:
        assert written.name == "shop-%s.json" % plan_run_id


# -- the failed requests the load balancer counted over the whole deploy (canary_analysis state=tally) --


def failed_text(page: str) -> str:
    import html
    import re

    return html.unescape(re.search(r'<span id="failed-requests">(.*?)</span>', page).group(1))


@pytest.mark.parametrize("strategy", ["rolling", "blue_green", "canary"])
def test_a_clean_deploy_of_any_strategy_shows_the_load_balancers_count(strategy):
    report = report_data.build_report(runs.rolling_success(strategy=strategy, tallied=True))
    fr = report["summary"]["failed_requests"]
    assert report["summary"]["strategy"] == strategy
    assert (fr["known"], fr["count"], fr["requests"]) == (True, 0, 4006)
    assert fr["source"] == report_data.TALLY_SOURCE and fr["reason"] is None and fr["windows"] is None
    assert (fr["http_5xx"], fr["connection_errors"], fr["response_errors"], fr["retries"], fr["redispatches"]) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert sorted(fr["servers"]) == runs.APP_HOSTS and fr["servers"]["app2"]["requests"] == 1001
    # the tally is neither a canary step nor a measured window of the traffic chart
    assert report["canary_steps"] == [] and report["traffic"]["measured"] == []
    page = render(report)
    assert failed_text(page) == (
        "0 of 4006 (load balancer's count over the deploy: 5xx 0, connection errors 0, response errors 0, "
        "retries 0, redispatches 0)"
    )
    assert 'id="failed-requests-per-server"' in page and "<td>app4</td>" in page
    json.dumps(report)


def test_a_rolled_back_deploy_shows_its_failed_requests_per_server():
    report = runs.report_of("rolled_back")
    fr = report["summary"]["failed_requests"]
    assert (fr["known"], fr["count"], fr["requests"], fr["http_5xx"], fr["response_errors"]) == (True, 13, 2990, 12, 1)
    assert (fr["retries"], fr["redispatches"]) == (1, 1)
    assert fr["servers"]["app3"]["failed"] == 13 and fr["servers"]["app1"]["failed"] == 0
    page = render(report)
    assert failed_text(page).startswith("13 of 2990 (load balancer's count over the deploy: 5xx 12, ")
    assert "<h2>Failed requests (the load balancer's count)</h2>" in page


def test_a_tally_that_could_not_count_shows_its_reason():
    events = runs.rolling_success(tallied=True)
    for event in events:
        result = event.get("result") or {}
        for step in (result.get("ledger") or {}).get("steps") or []:
            if step.get("name") == "tally":
                step.update(measured=False, reason="HAProxy at lb1 was reloaded during the deploy", total=None)
    report = report_data.build_report(events)
    fr = report["summary"]["failed_requests"]
    assert fr["known"] is False and fr["count"] is None and fr["servers"] == {}
    assert fr["reason"] == "HAProxy at lb1 was reloaded during the deploy"
    page = render(report)
    assert failed_text(page) == "not measured: HAProxy at lb1 was reloaded during the deploy"
    assert "count per server is not known: HAProxy at lb1 was reloaded" in page


def test_a_canary_run_with_a_tally_keeps_its_measured_windows_beside_it():
    events = runs.canary_run()
    tally = runs.tally_step({"web1": {"requests": 1200, "failed": 0}, "web2": {"requests": 2400, "failed": 2}})
    for event in events:
        ledger = (event.get("result") or {}).get("ledger")
        if isinstance(ledger, dict) and ledger.get("outcome") == "succeeded":
            ledger["steps"] = list(ledger.get("steps") or []) + [tally]
    report = report_data.build_report(events)
    fr = report["summary"]["failed_requests"]
    assert (fr["count"], fr["requests"], fr["source"]) == (2, 3600, report_data.TALLY_SOURCE)
    assert fr["windows"] == {"count": 2, "requests": 3300}
    assert [s["name"] for s in report["canary_steps"]] == ["10%", "50%"]
    assert "Over the canary steps and bake window: 2 of 3300." in render(report)


@pytest.mark.parametrize(
    "result, kind",
    [
        ({"analysis": "canary", "looks": 30, "stopped_early": False}, "canary"),  # a step judged at each look
        ({"analysis": "rollout", "looks": 1}, "rollout"),
        ({"analysis": "bake", "looks": 60}, "bake"),
        ({"name": "bake"}, "bake"),  # a ledger step recorded before results said what they judged
        ({"looks": 60, "looked": 3}, "bake"),
        ({"looks": 30, "stopped_early": True}, "canary"),
        ({"verdict": "pass"}, "canary"),
    ],
)
def test_each_analysis_is_told_apart(result, kind):
    """Canary steps judged at each look carry looks too: what the result says it judged decides, so a canary step
    is not shown as a bake window, and the rollout analysis (overlapping windows) is kept out of the summed traffic."""
    assert report_data._analysis_kind(result) == kind
