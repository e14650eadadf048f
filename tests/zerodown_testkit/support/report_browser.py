"""Open a deploy report (zerodown.deploy.deploy_report's HTML) in headless Chromium and read it back.

    view = open_report("/path/report.html")          # screenshot taken, checked not blank, DOM dumped
    view.hosts()            # ["app1", "app2", ...]   one timeline row per host
    view.phases("app1")     # ["stage", "drain", "stop", "switch", "start", "ready", "enable"]
    view.cause()            # the rollback cause, or None
    view.outcome()          # "succeeded", "rolled_back", ...
    view.screenshot         # path of the PNG; view.image has its size and colours

On a real run (molecule, the demo)::

    run = playbook("deploy", inventories, env=report_env(str(tmp_path)))   # zerodown_testkit.e2e.deploy_run
    view = open_report(report_path(run.output))

Chromium is Debian's ``chromium`` package (``make setup`` installs it); without it ``open_report`` fails loudly,
it never skips. Everything else is the standard library: html.parser for the DOM, zlib for the PNG.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Dict, List, Optional, Sequence, Tuple

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CALLBACK = "zerodown.deploy.deploy_report"
REPORT_LINE = "deploy report: "
WINDOW = (1280, 1600)


class ReportBrowserError(AssertionError):
    """Chromium is missing or failed, or the screenshot is blank."""


def chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise ReportBrowserError(
        "headless Chromium is needed to open the deploy report and none of %s is on PATH: install Debian's "
        "chromium package (make setup does, scripts/ensure-host.sh)" % ", ".join(CHROMIUM_NAMES)
    )


def _run_chromium(args: Sequence[str], url: str, timeout: float) -> str:
    with tempfile.TemporaryDirectory(prefix="zerodown-chromium-") as profile:
        cmd = [
            chromium(),
            "--headless",
            "--no-sandbox",  # as root (the test host), Chromium refuses to start with its sandbox
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--user-data-dir=%s" % profile,
            *args,
            url,
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ReportBrowserError("chromium did not finish within %s s: %s" % (timeout, " ".join(cmd))) from exc
    if done.returncode != 0:
        raise ReportBrowserError("chromium exited %d: %s\n%s" % (done.returncode, " ".join(cmd), done.stderr[-2000:]))
    return done.stdout


# -- the screenshot -------------------------------------------------------------------------------------------


@dataclass
class Image:
    width: int
    height: int
    colours: Dict[Tuple[int, int, int], int]  # sampled pixel colour -> count
    sampled: int

    def share_not(self, rgb: Tuple[int, int, int] = (255, 255, 255)) -> float:
        """Fraction of the sampled pixels that are not ``rgb`` (the page background)."""
        return 1.0 - self.colours.get(rgb, 0) / max(1, self.sampled)

    def has_colour(self, hex_colour: str, min_pixels: int = 5) -> bool:
        rgb = tuple(int(hex_colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
        return self.colours.get(rgb, 0) >= min_pixels  # type: ignore[call-overload]


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(path: str, step: int = 2) -> Image:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) and count the colours of every ``step``-th pixel of
    every ``step``-th row."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ReportBrowserError("%s is not a PNG" % path)
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    if header is None:
        raise ReportBrowserError("%s has no IHDR" % path)
    width, height, depth, colour_type, _c, _f, interlace = header
    if depth != 8 or colour_type not in (2, 6) or interlace:
        raise ReportBrowserError("%s: unsupported PNG (depth %d, colour type %d)" % (path, depth, colour_type))
    bpp = 4 if colour_type == 6 else 3
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    colours: Dict[Tuple[int, int, int], int] = {}
    sampled = 0
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                row[i] = (row[i] + row[i - bpp]) & 255
        elif kind == 2:
            row = bytearray((a + b) & 255 for a, b in zip(row, prev))
        elif kind == 3:
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                upleft = prev[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + _paeth(left, prev[i], upleft)) & 255
        if y % step == 0:
            for x in range(0, stride, bpp * step):
                rgb = (row[x], row[x + 1], row[x + 2])
                colours[rgb] = colours.get(rgb, 0) + 1
                sampled += 1
        prev = row
    return Image(width, height, colours, sampled)


def check_not_blank(image: Image, path: str) -> None:
    if len(image.colours) < 8 or image.share_not() < 0.02:
        raise ReportBrowserError(
            "the screenshot %s is blank: %d colour(s), %.1f %% of it not white"
            % (path, len(image.colours), 100 * image.share_not())
        )


# -- the DOM --------------------------------------------------------------------------------------------------


@dataclass
class _Node:
    tag: str
    attrs: Dict[str, str]
    text: List[str] = field(default_factory=list)


class _ReportParser(HTMLParser):
    """Host rows and their segments, load-balancer rows, and the text of elements with an id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: List[Tuple[str, List[Dict[str, str]]]] = []
        self.lb_rows: List[Tuple[Dict[str, str], List[Dict[str, str]]]] = []
        self.by_id: Dict[str, _Node] = {}
        self.stack: List[_Node] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        node = _Node(tag, {k: v or "" for k, v in attrs})
        classes = node.attrs.get("class", "").split()
        if tag == "g" and "host-row" in classes:
            self.rows.append((node.attrs.get("data-host", ""), []))
        elif tag == "g" and "lb-server" in classes:
            self.lb_rows.append((node.attrs, []))
        elif tag == "rect" and self._inside("host-row") and "data-phase" in node.attrs:
            self.rows[-1][1].append(node.attrs)
        elif tag == "rect" and self._inside("lb-server") and "data-state" in node.attrs:
            self.lb_rows[-1][1].append(node.attrs)
        if "id" in node.attrs:
            self.by_id[node.attrs["id"]] = node
        if tag not in ("meta", "br", "line", "img", "input", "link"):
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for node in self.stack:
            if "id" in node.attrs:
                node.text.append(data)

    def _inside(self, klass: str) -> bool:
        return any(n.tag == "g" and klass in n.attrs.get("class", "").split() for n in self.stack)


class ReportView:
    """What Chromium rendered: the DOM it dumped, parsed, and the checked screenshot."""

    def __init__(self, dom: str, screenshot: Optional[str] = None, image: Optional[Image] = None) -> None:
        self.dom = dom
        self.screenshot = screenshot
        self.image = image
        parser = _ReportParser()
        parser.feed(dom)
        self._rows = parser.rows
        self._lb_rows = parser.lb_rows
        self._by_id = parser.by_id

    def hosts(self) -> List[str]:
        """The timeline's rows, one per host, top to bottom."""
        return [host for host, _segments in self._rows]

    def segments(self, host: str) -> List[Dict[str, str]]:
        """The attributes of each phase segment of ``host``'s row (data-phase, data-status, data-rollback, ...)."""
        rows = [segs for name, segs in self._rows if name == host]
        if len(rows) != 1:
            raise AssertionError(
                "expected one timeline row for %s, found %d (rows: %s)" % (host, len(rows), self.hosts())
            )
        return rows[0]

    def phases(self, host: str, rollback: Optional[bool] = None) -> List[str]:
        """``host``'s phases in time order; ``rollback=False`` only the deploy's, ``True`` only the rollback's
        (then the step each undoes: drain, stop, ...)."""
        out = []
        for seg in self.segments(host):
            is_rollback = seg.get("data-rollback") == "true"
            if rollback is None:
                out.append(seg["data-phase"])
            elif rollback == is_rollback:
                out.append(seg.get("data-detail") or seg["data-phase"] if rollback else seg["data-phase"])
        return out

    def failed_phases(self, host: str) -> List[str]:
        return [s["data-phase"] for s in self.segments(host) if s.get("data-status") != "ok"]

    def text(self, element_id: str) -> Optional[str]:
        node = self._by_id.get(element_id)
        return " ".join("".join(node.text).split()) if node is not None else None

    def cause(self) -> Optional[str]:
        """The rollback cause shown (element ``#rollback-cause``), None when the report shows none."""
        return self.text("rollback-cause")

    def outcome(self) -> Optional[str]:
        node = self._by_id.get("summary")
        return node.attrs.get("data-outcome") if node is not None else None

    def lb_servers(self) -> Dict[str, List[str]]:
        """Per load balancer, its server rows."""
        out: Dict[str, List[str]] = {}
        for attrs, _states in self._lb_rows:
            out.setdefault(attrs.get("data-lb", ""), []).append(attrs.get("data-server", ""))
        return out

    def lb_states(self, server: str) -> List[str]:
        """The states one server went through (every load balancer), in order."""
        return [
            s["data-state"] for attrs, states in self._lb_rows if attrs.get("data-server") == server for s in states
        ]


def open_report(
    path: str,
    screenshot: Optional[str] = None,
    window: Tuple[int, int] = WINDOW,
    timeout: float = 120,
) -> ReportView:
    """Open the report at ``path`` in headless Chromium: take a screenshot (``screenshot``, default beside the
    report as ``<name>.png``), check that it is not blank, dump the DOM and return a ReportView of both."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise ReportBrowserError("no report at %s" % path)
    url = "file://" + path
    png = os.path.abspath(screenshot or os.path.splitext(path)[0] + ".png")
    if os.path.exists(png):
        os.unlink(png)
    _run_chromium(["--screenshot=%s" % png, "--window-size=%d,%d" % window], url, timeout)
    if not os.path.isfile(png):
        raise ReportBrowserError("chromium wrote no screenshot to %s" % png)
    image = read_png(png)
    check_not_blank(image, png)
    dom = _run_chromium(["--dump-dom"], url, timeout)
    return ReportView(dom, png, image)


def find_report(directory: str) -> str:
    """The newest ``*.html`` report in ``directory`` (the callback's report_dir)."""
    reports = [os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(".html")]
    if not reports:
        raise ReportBrowserError("no deploy report (*.html) in %s" % directory)
    return max(reports, key=os.path.getmtime)


def report_env(directory: str) -> Dict[str, str]:
    """The environment that enables the report callback for one ansible-playbook run, writing into ``directory``
    (the documented way: ANSIBLE_CALLBACKS_ENABLED, ZERODOWN_REPORT_DIR)."""
    return {"ANSIBLE_CALLBACKS_ENABLED": CALLBACK, "ZERODOWN_REPORT_DIR": directory}


def report_path(output: str) -> str:
    """The report's path from a run's output (the callback's last line, ``deploy report: <path>``)."""
    for line in reversed(output.splitlines()):
        if line.startswith(REPORT_LINE):
            path = line[len(REPORT_LINE) :].strip()
            if not path.endswith(".html"):
                raise ReportBrowserError("the run wrote no deploy report: %s" % line)
            return path
    raise ReportBrowserError(
        "no '%s<path>' line in the run's output: is %s enabled (report_env)?" % (REPORT_LINE, CALLBACK)
    )
