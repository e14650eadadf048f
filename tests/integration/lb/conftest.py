from __future__ import annotations

import pytest
from zerodown_testkit.support.lbharness import Backends, HAProxyInstance, NginxInstance


@pytest.fixture
def backends():
    servers = Backends(["web1", "web2", "web3"])
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def haproxy(tmp_path, backends):
    instance = HAProxyInstance(tmp_path / "lb1", backends)
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def haproxy2(tmp_path, backends):
    """A second, independent HAProxy (a peer) over the same backends."""
    instance = HAProxyInstance(tmp_path / "lb2", backends)
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def nginx(tmp_path, backends):
    instance = NginxInstance(tmp_path / "nginx", backends)
    try:
        yield instance
    finally:
        instance.stop()
