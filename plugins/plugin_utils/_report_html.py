# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: the deploy report as one self-contained HTML file.

Inline CSS and inline SVG only: no script, no font, no image, nothing fetched, so the file opens anywhere (an
AWX artifact, a mail attachment, a browser without network). Stable hooks for tests and tools:

* ``<g class="host-row" data-host="app1">`` per app host, holding one ``<rect class="seg" data-phase="drain"
  data-status="ok" data-rollback="false" data-start="…" data-end="…">`` per phase segment (rollback segments have
  ``data-phase="rollback"`` and the step they undo in ``data-detail``);
* ``<g class="lb-server" data-lb="…" data-server="…">`` with ``<rect data-state="ready" data-weight="10">``;
* ``<g class="traffic" data-source="measured|configured">`` with ``<rect data-release="…" data-share="…">``;
* ``id="summary"`` (``data-outcome``), ``id="rollback-cause"`` (only when there is a cause), ``id="canary-steps"``,
  ``id="migration-findings"``, ``id="drains"``, ``id="probes"``.
"""

from __future__ import annotations

import json
import os
import re
import time
from html import escape
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import rewrite_text

PHASE_COLOURS = {
    "stage": "#8d99ae",
    "drain": "#f4a261",
    "stop": "#e76f51",
    "switch": "#9b5de5",
    "start": "#2a9d8f",
    "ready": "#52b788",
    "enable": "#277da1",
    "shift": "#90be6d",
    "canary": "#f9c74f",
    "prune": "#ced4da",
    "rollback": "#c1121f",
    "unreachable": "#212529",
}
STATE_COLOURS = {"ready": "#52b788", "drain": "#f4a261", "maint": "#adb5bd"}
RELEASE_COLOURS = ("#577590", "#f3722c", "#43aa8b", "#f94144", "#9b5de5", "#f9c74f")
OUTCOME_COLOURS = {"succeeded": "#2d6a4f", "unchanged": "#495057", "rolled_back": "#c1121f", "failed": "#6a040f"}

WIDTH = 1000
LABEL = 120
ROW = 24

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#212529;background:#fff}
h1{font-size:22px;margin:0 0 8px}h3{font-size:14px;margin:14px 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dee2e6}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
dl#summary{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:8px 0}
dl#summary dt{font-weight:600}dl#summary dd{margin:0}
#rollback{border-left:6px solid #c1121f;background:#fff0f0;padding:8px 14px}
td.rewrite pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap;margin:2px 0}
td.rewrite p{margin:0;max-width:420px}
#rollback-cause{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;margin:4px 0}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid #dee2e6;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#495057;font-size:13px;max-width:960px}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}
svg text{font-size:11px;fill:#212529}
.pass{color:#2d6a4f;font-weight:600}.fail{color:#c1121f;font-weight:600}.inconclusive{color:#b08900;font-weight:600}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return ("%." + str(digits) + "f") % value if isinstance(value, float) else str(value)
    return _e(value)


class _Scale:
    def __init__(self, end: float) -> None:
        self.end = max(float(end), 1.0)

    def x(self, t: float) -> float:
        return round(LABEL + max(0.0, min(float(t), self.end)) / self.end * (WIDTH - LABEL - 10), 2)

    def width(self, start: float, end: float) -> float:
        return round(max(2.0, self.x(end) - self.x(start)), 2)

    def axis(self, y: int) -> str:
        step = _tick(self.end)
        parts = ['<g class="axis">']
        t = 0.0
        while t <= self.end + 1e-9:
            x = self.x(t)
            parts.append('<line x1="%s" y1="0" x2="%s" y2="%d" stroke="#e9ecef"/>' % (x, x, y))
            parts.append('<text x="%s" y="%d" text-anchor="middle">%ss</text>' % (x, y + 12, _trim(t)))
            t += step
        parts.append("</g>")
        return "".join(parts)


def _tick(end: float) -> float:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if end / step <= 12:
            return float(step)
    return end / 10


def _trim(t: float) -> str:
    return ("%.1f" % t).rstrip("0").rstrip(".")


def _legend(names: Sequence[str], colours: Mapping[str, str]) -> str:
    return '<div class="legend">%s</div>' % "".join(
        '<span><i style="background:%s"></i>%s</span>' % (colours.get(n, "#999"), _e(n)) for n in names
    )


def timeline(report: Mapping[str, Any]) -> str:
    data = report["timeline"]
    scale = _Scale(data["end"])
    rows = data["hosts"]
    deploy_phases = data.get("deploy_phases") or []
    height = ROW * (len(rows) + (1 if deploy_phases else 0)) + 20
    out = ['<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d">' % (WIDTH, height)]
    out.append(scale.axis(height - 18))
    y = 0
    if deploy_phases:
        out.append('<g class="deploy-row"><text x="4" y="%d">deploy phases</text>' % (y + 16))
        for i, phase in enumerate(deploy_phases):
            colour = "#dee2e6" if i % 2 else "#ced4da"
            out.append(
                '<rect data-deploy-phase="%s" x="%s" y="%d" width="%s" height="%d" fill="%s"><title>%s: %s s</title>'
                "</rect>"
                % (
                    _e(phase["name"]),
                    scale.x(phase["start"]),
                    y + 3,
                    scale.width(phase["start"], phase["end"]),
                    ROW - 6,
                    colour,
                    _e(phase["name"]),
                    _num(phase.get("seconds")),
                )
            )
            out.append(
                '<text x="%s" y="%d">%s</text>' % (scale.x(phase["start"]) + 2, y + 16, _e(str(phase["name"])[:18]))
            )
        out.append("</g>")
        y += ROW
    for row in rows:
        out.append('<g class="host-row" data-host="%s">' % _e(row["host"]))
        out.append('<text x="4" y="%d">%s</text>' % (y + 16, _e(row["host"])))
        for seg in row["segments"]:
            colour = PHASE_COLOURS.get(seg["phase"], "#999")
            failed = seg["status"] != "ok"
            title = "%s%s %s-%s s (%s)%s" % (
                seg["phase"],
                " of " + seg["detail"] if seg.get("detail") else "",
                _trim(seg["start"]),
                _trim(seg["end"]),
                seg.get("task") or "",
                ": " + str(seg["reason"]) if seg.get("reason") else "",
            )
            out.append(
                '<rect class="seg%s" data-phase="%s" data-detail="%s" data-status="%s" data-rollback="%s" '
                'data-start="%s" data-end="%s" x="%s" y="%d" width="%s" height="%d" fill="%s"%s><title>%s</title></rect>'
                % (
                    " failed" if failed else "",
                    _e(seg["phase"]),
                    _e(seg.get("detail") or ""),
                    _e(seg["status"]),
                    "true" if seg["rollback"] else "false",
                    seg["start"],
                    seg["end"],
                    scale.x(seg["start"]),
                    y + 3,
                    scale.width(seg["start"], seg["end"]),
                    ROW - 6,
                    colour,
                    ' stroke="#000" stroke-width="2"' if failed else "",
                    _e(title),
                )
            )
        out.append("</g>")
        y += ROW
    out.append("</svg>")
    names = [p for p in PHASE_COLOURS if any(s["phase"] == p for r in rows for s in r["segments"])]
    return "".join(out) + _legend(names, PHASE_COLOURS)


def load_balancers(report: Mapping[str, Any]) -> str:
    scale = _Scale(report["timeline"]["end"])
    parts = []
    for lb in report["load_balancers"]:
        height = ROW * len(lb["servers"]) + 20
        out = [
            '<h3>%s</h3><svg class="lb-states" data-lb="%s" width="%d" height="%d">'
            % (_e(lb["id"]), _e(lb["id"]), WIDTH, height)
        ]
        out.append(scale.axis(height - 18))
        for i, server in enumerate(lb["servers"]):
            y = i * ROW
            out.append(
                '<g class="lb-server" data-lb="%s" data-server="%s" data-host="%s">'
                % (_e(lb["id"]), _e(server["server"]), _e(server["host"]))
            )
            out.append('<text x="4" y="%d">%s</text>' % (y + 16, _e(server["server"])))
            states = server["states"]
            for j, point in enumerate(states):
                end = states[j + 1]["at"] if j + 1 < len(states) else report["timeline"]["end"]
                out.append(
                    '<rect data-state="%s" data-weight="%s" data-at="%s" x="%s" y="%d" width="%s" height="%d" '
                    'fill="%s"><title>%s weight %s from %s s</title></rect>'
                    % (
                        _e(point["state"]),
                        _e(point["weight"]),
                        point["at"],
                        scale.x(point["at"]),
                        y + 3,
                        scale.width(point["at"], end),
                        ROW - 6,
                        STATE_COLOURS.get(str(point["state"]), "#999"),
                        _e(point["state"]),
                        _e(point["weight"]),
                        _trim(point["at"]),
                    )
                )
            out.append("</g>")
        out.append("</svg>")
        parts.append("".join(out))
    if not parts:
        return '<p class="note">No load-balancer state was read back in this run.</p>'
    return "".join(parts) + _legend(list(STATE_COLOURS), STATE_COLOURS)


def _release_colours(report: Mapping[str, Any]) -> Dict[str, str]:
    names: List[str] = []
    traffic = report["traffic"]
    for point in traffic["configured"] + traffic["measured"]:
        names += [r for r in point["share"] if r not in names]
    return {name: RELEASE_COLOURS[i % len(RELEASE_COLOURS)] for i, name in enumerate(sorted(names))}


def _share_band(
    spans: List[Any], source: str, label: str, top: int, height: int, scale: _Scale, colours: Mapping[str, str]
) -> str:
    """One band of stacked bars, a bar per span (start, end, {release: share}, name)."""
    out = ['<g class="traffic" data-source="%s"><text x="4" y="%d">%s</text>' % (source, top + 14, _e(label))]
    for start, end, share, name in spans:
        y = float(top)
        for release, fraction in share.items():
            h = round(fraction * height, 2)
            if h <= 0:
                continue
            out.append(
                '<rect data-release="%s" data-share="%s" data-start="%s" x="%s" y="%s" width="%s" height="%s" '
                'fill="%s"><title>%s%s: %d %%</title></rect>'
                % (
                    _e(release),
                    fraction,
                    start,
                    scale.x(start),
                    round(y, 2),
                    scale.width(start, end),
                    h,
                    colours[release],
                    _e(name + " - ") if name else "",
                    _e(release),
                    round(fraction * 100),
                )
            )
            y += h
    out.append("</g>")
    return "".join(out)


def traffic(report: Mapping[str, Any]) -> str:
    """The share per release: measured over the canary steps and bake window where counted, and the serving
    weights over the whole run, each in its own band."""
    data = report["traffic"]
    end = report["timeline"]["end"]
    scale = _Scale(end)
    colours = _release_colours(report)
    band = 80
    points = data["configured"]
    bands = []
    if data["measured"]:
        spans = [(m["start"], m["end"], m["share"], m.get("name")) for m in data["measured"]]
        bands.append((spans, "measured", "measured"))
    spans = [
        (p["at"], points[i + 1]["at"] if i + 1 < len(points) else end, p["share"], None) for i, p in enumerate(points)
    ]
    bands.append((spans, "configured", "by weight"))
    height = len(bands) * (band + 10)
    out = ['<svg id="traffic" width="%d" height="%d">' % (WIDTH, height + 20), scale.axis(height + 2)]
    for i, (spans, source, label) in enumerate(bands):
        out.append(_share_band(spans, source, label, i * (band + 10), band, scale, colours))
    out.append("</svg>")
    return "".join(out) + _legend(list(colours), colours) + '<p class="note">%s</p>' % _e(data["note"])


def _table(table_id: str, headers: Sequence[str], rows: List[Sequence[str]], empty: str) -> str:
    if not rows:
        return '<p class="note" id="%s">%s</p>' % (table_id, _e(empty))
    head = "".join("<th>%s</th>" % _e(h) for h in headers)
    body = "".join("<tr>%s</tr>" % "".join(cells) for cells in rows)
    return '<table id="%s"><thead><tr>%s</tr></thead><tbody>%s</tbody></table>' % (table_id, head, body)


def _td(value: Any, numeric: bool = False, cls: Optional[str] = None) -> str:
    if isinstance(value, bool):
        value = "yes" if value else "no"
    text = _num(value, 3) if numeric else _e("-" if value is None else value)
    klass = " ".join(c for c in ("num" if numeric else "", cls or "") if c)
    return '<td class="%s">%s</td>' % (klass, text) if klass else "<td>%s</td>" % text


def _counts(counts: Any) -> str:
    if not isinstance(counts, Mapping):
        return "-"
    rate = counts.get("error_rate")
    return "%s req, %s err (%s), %s ms" % (
        _num(counts.get("requests")),
        _num(counts.get("errors")),
        "-" if rate is None else "%.2f %%" % (float(rate) * 100),
        _num(counts.get("latency_ms"), 1),
    )


def canary_steps(report: Mapping[str, Any]) -> str:
    rows = []
    for step in report["canary_steps"]:
        verdict = str(step.get("verdict") or "-")
        rows.append(
            [
                _td(step.get("name")),
                _td(step.get("percent"), True),
                _td(verdict, cls=verdict),
                "<td>%s</td>" % _counts(step.get("canary")),
                "<td>%s</td>" % _counts(step.get("baseline")),
                _td(step.get("latency_ratio"), True),
                _td(step.get("step_seconds"), True),
                _td(step.get("reason")),
            ]
        )
    return _table(
        "canary-steps",
        ("step", "%", "verdict", "canary", "baseline", "latency ratio", "seconds", "reason"),
        rows,
        "No canary step or bake window in this run.",
    )


def migrations(report: Mapping[str, Any]) -> str:
    mig = report.get("migration")
    if not mig:
        return '<p class="note" id="migration-findings">No migration check in this run.</p>'
    rows = [
        [
            _td("%s:%s" % (f.get("file"), f.get("line"))),
            _td(f.get("rule")),
            _td(f.get("severity") + (" (waived)" if f.get("waived") else "") if f.get("severity") else None),
            _td(f.get("statement")),
            _td(f.get("message")),
            _td(f.get("remedy")),
            _rewrite_td(f.get("rewrite")),
        ]
        for f in mig["findings"]
    ]
    verdict = '<p data-compatible="%s">%s</p>' % (
        "true" if mig.get("compatible") else "false",
        "Compatible: the old release can run against the new schema."
        if mig.get("compatible")
        else "Not compatible: the release was blocked.",
    )
    return verdict + _table(
        "migration-findings",
        ("where", "rule", "severity", "statement", "why", "remedy", "safe rewrite"),
        rows,
        "No findings in %d file(s)." % len(mig.get("files") or []),
    )


def _rewrite_td(rewrite: Any) -> str:
    """The finding's safe rewrite, SQL ready to save (migration_check's ``rewrite``), or - when it has none."""
    if not isinstance(rewrite, Mapping):
        return _td(None)
    return '<td class="rewrite"><p>%s</p><pre>%s</pre></td>' % (
        _e(rewrite.get("note") or ""),
        _e(rewrite_text(rewrite)),
    )


def drains_and_probes(report: Mapping[str, Any]) -> str:
    drains = [
        [
            _td(d["at"], True),
            _td(", ".join(d["hosts"])),
            _td("rollback" if d["rollback"] else "deploy"),
            _td(d.get("drain_seconds"), True),
            _td(d.get("sessions_at_start"), True),
            _td(d.get("killed_sessions"), True),
            _td(d.get("timed_out")),
        ]
        for d in report["drains"]
    ]
    probes = [
        [
            _td(p["at"], True),
            _td(p["host"]),
            _td(p["source"] + (" (rollback)" if p.get("rollback") else "")),
            _td(p.get("elapsed"), True),
            _td(p.get("ready")),
            _td(p.get("reason")),
        ]
        for p in report["probes"]
    ]
    return (
        "<h3>Drains</h3>"
        + _table(
            "drains",
            ("at s", "hosts", "for", "drain s", "sessions at start", "sessions cut", "timed out"),
            drains,
            "No drain in this run.",
        )
        + "<h3>Readiness</h3>"
        + _table("probes", ("at s", "host", "by", "seconds", "ready", "reason"), probes, "No readiness probe ran.")
    )


def summary(report: Mapping[str, Any]) -> str:
    s = report["summary"]
    outcome = str(s.get("outcome"))
    failed = failed_requests_text(s["failed_requests"])
    items = [
        (
            "outcome",
            '<span class="badge" style="background:%s">%s</span>'
            % (OUTCOME_COLOURS.get(outcome, "#495057"), _e(outcome)),
        ),
        ("application", _e(s.get("app"))),
        ("release", _e(s.get("release"))),
        ("strategy", _e(s.get("strategy"))),
        ("run", _e(s.get("run_id"))),
        ("duration", "%s s" % _num(s.get("duration"), 1)),
        ("failed requests", '<span id="failed-requests">%s</span>' % _e(failed)),
        ("per phase", _e(", ".join("%s %s s" % kv for kv in (s.get("phase_seconds") or {}).items()) or "-")),
    ]
    if s.get("sessions_cut"):
        items.append(("sessions cut at drain timeout", _e(s["sessions_cut"])))
    if s.get("censored_results"):
        items.append(("hidden (no_log) results", _e(s["censored_results"])))
    body = "".join("<dt>%s</dt><dd>%s</dd>" % (_e(k), v) for k, v in items)
    return '<dl id="summary" data-outcome="%s">%s</dl>' % (_e(outcome), body)


#: The counts of a tally besides the failed ones, as the summary names them.
TALLY_WORDS = (
    ("http_5xx", "5xx"),
    ("connection_errors", "connection errors"),
    ("response_errors", "response errors"),
    ("retries", "retries"),
    ("redispatches", "redispatches"),
)


def failed_requests_text(fr: Mapping[str, Any]) -> str:
    """The summary's failed requests: the load balancer's count over the deploy, else over the measured windows,
    else why it was not measured."""
    if not fr["known"]:
        return "not measured: %s" % (fr.get("reason") or "the load balancer's counters were not read")
    if fr.get("http_5xx") is None:  # counted over the measured windows only
        text = "%s of %s (%s)" % (fr["count"], fr["requests"], fr["source"])
        return text + ("; over the whole deploy not measured: %s" % fr["reason"] if fr.get("reason") else "")
    detail = ", ".join("%s %s" % (words, fr.get(key)) for key, words in TALLY_WORDS)
    return "%s of %s (load balancer's count over the deploy: %s)" % (fr["count"], fr["requests"], detail)


def failed_requests_table(report: Mapping[str, Any]) -> str:
    """Per server, what the load balancer counted during the deploy (the tally), and the measured windows."""
    fr = report["summary"]["failed_requests"]
    rows = [
        [_td(name), _td(c.get("requests"), True), _td(c.get("failed"), True)]
        + [_td(c.get(key), True) for key, _words in TALLY_WORDS]
        for name, c in (fr.get("servers") or {}).items()
    ]
    table = _table(
        "failed-requests-per-server",
        ("server", "requests", "failed") + tuple(words for _key, words in TALLY_WORDS),
        rows,
        "The load balancer's count per server is not known: %s" % (fr.get("reason") or "not measured"),
    )
    windows = fr.get("windows")
    if windows:
        table += '<p class="note" id="failed-requests-windows">Over the canary steps and bake window: %s of %s.</p>' % (
            _e(windows["count"]),
            _e(windows["requests"]),
        )
    return table


def hosts_table(report: Mapping[str, Any]) -> str:
    rows = [
        [
            _td(name),
            _td(h.get("server")),
            _td(h.get("batch"), True),
            _td(h.get("previous")),
            _td(h.get("current")),
            _td(h.get("status")),
        ]
        for name, h in report["hosts"].items()
    ]
    return _table(
        "hosts", ("host", "server", "batch", "before", "now", "status"), rows, "The ledger was not read in this run."
    )


def failures(report: Mapping[str, Any]) -> str:
    rows = [[_td(f["at"], True), _td(f["host"]), _td(f["task"]), _td(f.get("msg"))] for f in report["failures"]]
    return _table("failures", ("at s", "host", "task", "message"), rows, "No task failed.")


def render(report: Mapping[str, Any]) -> str:
    s = report["summary"]
    title = "zerodown deploy report - %s %s" % (s.get("app") or "", s.get("release") or "")
    cause = ""
    if s.get("cause"):
        cause = '<section id="rollback"><h2>Rollback cause</h2><p id="rollback-cause">%s</p></section>' % _e(s["cause"])
    smoke = report.get("smoke_test")
    smoke_html = '<p class="note" id="smoke-test">No smoke test in this run.</p>'
    if smoke:
        smoke_html = '<p id="smoke-test" data-passed="%s">%s in %s s%s</p>' % (
            "true" if smoke.get("passed") else "false",
            "passed" if smoke.get("passed") else "failed",
            _num(smoke.get("elapsed")),
            (": " + _e(", ".join(smoke.get("failed_checks") or []))) if smoke.get("failed_checks") else "",
        )
    body = [
        "<h1>%s</h1>" % _e(title),
        summary(report),
        cause,
        "<h2>Failed requests (the load balancer's count)</h2>",
        failed_requests_table(report),
        "<h2>Timeline per host and phase</h2>",
        timeline(report),
        "<h2>Load-balancer server states</h2>",
        load_balancers(report),
        "<h2>Traffic share per release</h2>",
        traffic(report),
        "<h2>Canary steps and bake window</h2>",
        canary_steps(report),
        "<h2>Drain and readiness timings</h2>",
        drains_and_probes(report),
        "<h2>Migration check</h2>",
        migrations(report),
        "<h2>Smoke test</h2>",
        smoke_html,
        "<h2>Hosts</h2>",
        hosts_table(report),
        "<h2>Failed tasks</h2>",
        failures(report),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>%s</title><style>%s</style></head>'
        "<body>%s</body></html>\n" % (_e(title), CSS, "".join(body))
    )


def report_base_name(report: Mapping[str, Any], name: str = "") -> str:
    """The files' base name: ``name``, else ``<app>-<run id>``, else ``deploy-<UTC time>``; safe as a file name."""
    if not name:
        summary = report["summary"]
        if summary.get("run_id"):
            name = "%s-%s" % (summary.get("app") or "deploy", summary["run_id"])
        else:
            name = "deploy-%s" % time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(report.get("started_epoch") or None))
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "deploy"


def default_report_dir(environ: Mapping[str, str]) -> str:
    """Where reports go when ``report_dir`` is not set: the job's artifacts directory under ansible-runner (which
    names it in ``AWX_ISOLATED_DATA_DIR``, inside an execution environment too), else ``./zerodown-reports``."""
    artifacts = environ.get("AWX_ISOLATED_DATA_DIR", "")
    return os.path.join(artifacts, "zerodown-reports") if artifacts else "./zerodown-reports"


def write_report(report: Mapping[str, Any], directory: str, name: str = "") -> str:
    """Write ``<base>.json`` and ``<base>.html`` into ``directory`` (each replaced atomically); the HTML's path."""
    directory = os.path.abspath(os.path.expanduser(directory or default_report_dir(os.environ)))
    os.makedirs(directory, exist_ok=True)
    base = os.path.join(directory, report_base_name(report, name))
    for suffix, text in ((".json", json.dumps(report, indent=1, sort_keys=True) + "\n"), (".html", render(report))):
        tmp = "%s%s.tmp" % (base, suffix)
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, base + suffix)
    return base + ".html"
