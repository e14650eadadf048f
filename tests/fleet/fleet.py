#!/usr/bin/env python3
"""Run the fleet CLI from anywhere: ``tests/fleet/fleet.py up`` == ``cd tests && python3 -m fleet up``."""

import os
import sys

# Our own directory first on sys.path would make this file, not the package, `fleet`.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))

from fleet.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
