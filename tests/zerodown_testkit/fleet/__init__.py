"""The zerodown test fleet: systemd-nspawn machines, a sample app and its releases.

Run from ``tests/``: ``python3 -m fleet up|down|status|ssh|releases|bootstrap``
(or ``tests/fleet/fleet.py ...`` from anywhere). See docs/test-fleet.md.
"""
