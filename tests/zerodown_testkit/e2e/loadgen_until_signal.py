"""``zerodown_testkit.support.loadgen`` for a background job: SIGTERM or SIGINT ends it with its report.

A command started with ``&`` by a non-interactive shell ignores SIGINT, so the
load generator's own Ctrl-C handling never runs there; this wrapper turns both
signals into the KeyboardInterrupt it handles (stop, print the JSON report).

    python -m zerodown_testkit.e2e.loadgen_until_signal URL -c 4 -d 1200 ... > report.json &
    kill -TERM $!
"""

from __future__ import annotations

import signal
import sys

from ..support import loadgen


def _stop(signum, frame):
    # once: a second signal (a wrapper forwarding it again) must not cut the report short
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    return loadgen.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
