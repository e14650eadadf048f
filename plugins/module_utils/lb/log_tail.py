# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: per-key Counts of the lines a log gained between two snapshots.

The one way the canary analysis reads a log (nginx's access log, lb/nginx_log.py; HAProxy's log as syslog
writes it, lb/haproxy_log.py). A snapshot (``LogTail.position``) records the file's identity (``st_dev``,
``st_ino``) and the byte offset just after its last complete line; a step (``LogTail.count``) reads the lines
written between two snapshots, so its cost follows the step's traffic, never the log's size. A line still
being written (no newline yet) is left for the next reading. The log rotated or truncated in between (another
inode, or shorter than the offset, or no line ending at the offset any more) makes the step unmeasurable:
``CounterResetError``.

What a line counts is the ``LogFormat``'s: ``parse(line)`` -> ``(key, Counts)`` or None (a line that counts
nowhere), ``ValueError`` saying what does not match for a line the analysis cannot read. Counts are summed per
key in linear time (``Tally``; ``Counts.add`` copies its values), keeping at most ``MAX_LATENCY_VALUES``
response times per key.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from ansible_collections.zerodown.deploy.plugins.module_utils.lb.counters import (
    MAX_LATENCY_VALUES,
    Counts,
    check_count,
)
from ansible_collections.zerodown.deploy.plugins.module_utils.lb.errors import CounterResetError

CHUNK = 1 << 20  # bytes read at a time
MAX_LINE = 1 << 16  # a longer line is in no format the analysis reads
TAIL = 4096  # bytes read back from the end first, to find the last complete line
#: How much of a log before a snapshot is the bake window's reference ("what the counters showed before the
#: deploy"): its last 8 MiB, some 80,000 requests at about 100 bytes a line.
REFERENCE_BYTES = 8 * 1024 * 1024
Ident = Tuple[int, int]  # (st_dev, st_ino)


class LogFormat:
    """What a ``LogTail`` needs to know of the log it reads."""

    #: the log in messages: "nginx access log", "HAProxy log"
    what = "log"
    #: how to get a log that can be read in step, at the end of a CounterResetError
    rotate_advice = "rotate this log between deploys"

    def parse(self, line: str) -> Optional[Tuple[str, Counts]]:
        """(key, what the line counts), None for a line that counts nowhere; ValueError when it cannot be read."""
        raise NotImplementedError

    def unreadable(self, path: str, reason: str) -> Exception:
        """The error for a log that cannot be opened."""
        raise NotImplementedError

    def misformatted(self, path: str, where: str, line: str, why: str) -> Exception:
        """The error for a line that cannot be read: ``where`` is "line 3 since the snapshot (byte offset 120)"."""
        raise NotImplementedError


class Tally:
    """Counts per key of many lines, added in place: linear in the lines, at most MAX_LATENCY_VALUES values a key."""

    def __init__(self) -> None:
        self._counts: Dict[str, Counts] = {}
        self._values: Dict[str, List[float]] = {}

    def add(self, key: str, counts: Counts) -> None:
        """Add one line's Counts, which the tally takes over (its values list is emptied)."""
        values = counts.latency_values
        if values:
            kept = self._values.setdefault(key, [])
            room = MAX_LATENCY_VALUES - len(kept)
            if room > 0:
                kept.extend(values[:room])
            counts.latency_values = []
        total = self._counts.get(key)
        self._counts[key] = counts if total is None else total.add(counts)

    def result(self) -> Dict[str, Counts]:
        """A copy: adding to the tally later changes nothing returned before."""
        return {key: replace(c, latency_values=list(self._values.get(key, ()))) for key, c in self._counts.items()}


class LogTail:
    """One log file read by byte offsets; ``fmt`` (a ``LogFormat``) says what its lines count."""

    def __init__(self, path: str, fmt: LogFormat) -> None:
        self.path = path
        self.fmt = fmt
        # (file, start offset) -> (offset read up to, lines read, Tally): the polls of one analysis read only
        # what was written since the previous poll
        self._read: Dict[Tuple[Ident, int], Tuple[int, int, Tally]] = {}

    # -- snapshots -------------------------------------------------------------------

    def position(self) -> Dict[str, int]:
        """{dev, ino, offset}: where the log ends now (after its last complete line, which must be readable)."""
        with self._open() as handle:
            stat = os.fstat(handle.fileno())
            offset = self._last_line_end(handle, stat.st_size)
        return {"dev": stat.st_dev, "ino": stat.st_ino, "offset": offset}

    @staticmethod
    def check_position(entry: Mapping[str, Any], what: str) -> Dict[str, int]:
        """A position given back through JSON, validated (``what``: "the access log")."""
        return {
            "dev": check_count(entry.get("dev"), "dev of %s" % what),
            "ino": check_count(entry.get("ino"), "ino of %s" % what),
            "offset": check_count(entry.get("offset"), "offset in %s" % what),
        }

    # -- steps -----------------------------------------------------------------------

    def count(self, before: Mapping[str, int], after: Mapping[str, int]) -> Dict[str, Counts]:
        """Counts per key of the lines between two positions of the same file."""
        ident = (before["dev"], before["ino"])
        if (after["dev"], after["ino"]) != ident:
            raise self.rotated(
                "is another file than at the snapshot (device/inode %d/%d, now %d/%d)"
                % (ident + (after["dev"], after["ino"]))
            )
        if after["offset"] < before["offset"]:
            raise self.rotated(
                "is shorter than at the snapshot (byte %d, now %d)" % (before["offset"], after["offset"])
            )
        return self._count(ident, before["offset"], after["offset"])

    def reference(self, position: Mapping[str, int]) -> Dict[str, Counts]:
        """Counts per key over the log's last ``REFERENCE_BYTES`` before ``position`` (whole lines)."""
        ident, end = (position["dev"], position["ino"]), position["offset"]
        start = max(0, end - REFERENCE_BYTES)
        if start:
            with self._open() as handle:
                handle.seek(start - 1)
                newline = handle.read(min(end - start + 1, 1 << 20)).find(b"\n")
            start = end if newline < 0 else start + newline  # the first line that starts in the window
        return self._count(ident, start, end)

    def _count(self, ident: Ident, start: int, end: int) -> Dict[str, Counts]:
        """Counts per key of the lines between two offsets of one file, continuing an earlier read."""
        done, lines, tally = self._read.get((ident, start), (start, 0, None))
        if tally is None:
            tally = Tally()
        if end < done:
            raise self.rotated("is shorter than at the previous reading (byte %d, now %d)" % (done, end))
        if end > done:
            with self._open() as handle:
                stat = os.fstat(handle.fileno())
                if (stat.st_dev, stat.st_ino) != ident:
                    raise self.rotated(
                        "was replaced while the step was read (device/inode now %d/%d)" % (stat.st_dev, stat.st_ino)
                    )
                if stat.st_size < end:
                    raise self.rotated(
                        "was truncated while the step was read (%d bytes, expected %d)" % (stat.st_size, end)
                    )
                if start > 0 and done == start:
                    handle.seek(start - 1)
                    if handle.read(1) != b"\n":  # truncated and written again past the offset (copytruncate)
                        raise self.rotated("no longer has a line ending at byte %d (truncated and rewritten)" % start)
                try:
                    for number, offset, line in self._lines(handle, done, end, lines):
                        parsed = self._parse(line, offset, number)
                        if parsed is not None:
                            tally.add(*parsed)
                        lines = number
                except Exception:
                    self._read.pop((ident, start), None)  # half a reading: start again next time
                    raise
            self._read[(ident, start)] = (end, lines, tally)
        return tally.result()

    # -- the file --------------------------------------------------------------------

    def _open(self) -> Any:
        try:
            return open(self.path, "rb")
        except OSError as exc:
            raise self.fmt.unreadable(self.path, str(exc.strerror or exc)) from exc

    def _last_line_end(self, handle: Any, size: int) -> int:
        """The offset just after the last newline (0 when none); the last complete line must be readable.

        Reads back from the end, a few KiB unless the lines are long: a snapshot costs nothing like the log's size.
        """
        window = TAIL
        while True:
            start = max(0, size - window)
            handle.seek(start)
            tail = handle.read(size - start)
            cut = tail.rfind(b"\n")
            begin = tail.rfind(b"\n", 0, max(cut, 0)) + 1
            if start == 0 or begin > 0:
                break
            if window > MAX_LINE:
                self._format_error(start, None, "", "no complete line in the last %d bytes" % window)
            window *= 4
        if cut < 0:
            return 0
        self._parse(tail[begin:cut].decode("utf-8", "replace"), start + begin, None)
        return start + cut + 1

    def _lines(self, handle: Any, start: int, end: int, counted: int) -> Iterator[Tuple[int, int, str]]:
        """(line number since the step's start, byte offset, text) of each line in [start, end)."""
        handle.seek(start)
        pending = b""
        offset = start
        number = counted
        left = end - start
        while left > 0:
            data = handle.read(min(CHUNK, left))
            if not data:
                break
            left -= len(data)
            pending += data
            lines = pending.split(b"\n")
            pending = lines.pop()
            for raw in lines:
                number += 1
                yield number, offset, raw.decode("utf-8", "replace")
                offset += len(raw) + 1
            if len(pending) > MAX_LINE:
                self._format_error(offset, number + 1, "", "no line ending in %d bytes" % MAX_LINE)

    def _parse(self, line: str, offset: int, number: Optional[int]) -> Optional[Tuple[str, Counts]]:
        try:
            return self.fmt.parse(line)
        except ValueError as exc:
            self._format_error(offset, number, line, str(exc))
        return None

    def _format_error(self, offset: int, number: Optional[int], line: str, why: str) -> None:
        where = (
            "line %d since the snapshot (byte offset %d)" % (number, offset)
            if number is not None
            else "the last line (byte offset %d)" % offset
        )
        shown = line if len(line) <= 200 else line[:200] + "..."
        raise self.fmt.misformatted(self.path, where, shown, why)

    def rotated(self, what: str) -> CounterResetError:
        return CounterResetError(
            "%s %s %s: it was rotated or truncated during the step, so the step cannot be measured; "
            "take a new snapshot and measure the next step (%s)"
            % (self.fmt.what, self.path, what, self.fmt.rotate_advice)
        )
