"""Fixtures for the readiness_probe / smoke_test integration tests."""

from __future__ import annotations

import socket

import pytest
from zerodown_testkit.support.http_server import make_tls


@pytest.fixture(scope="session")
def tls(tmp_path_factory):
    """A throw-away CA with a server certificate for 127.0.0.1 and a client certificate."""
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def closed_port():
    """A loopback port nobody listens on (bound once to get a free number, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
