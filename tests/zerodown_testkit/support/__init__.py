"""Helpers shared by the zerodown.deploy test suites (not part of the collection)."""
