#!/usr/bin/env python3
"""Run the fleet CLI from anywhere: ``tests/fleet/fleet.py up`` == ``cd tests && python3 -m fleet up``."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fleet.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
