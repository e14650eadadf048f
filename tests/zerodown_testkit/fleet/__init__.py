"""The zerodown test fleet: systemd-nspawn machines, a sample app and its releases.

``python -m zerodown_testkit.fleet up|down|status|ssh|releases|bootstrap``, from
any directory with the project venv's Python. See docs/test-fleet.md.
"""
