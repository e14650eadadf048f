"""v1 answers through the load balancer from every app host, and /db writes to db1."""

import hashlib
import json
from pathlib import Path

from conftest import http_get
from zerodown_testkit.e2e.verifier import fleet_db

testinfra_hosts = ["ansible://lb1"]


def test_v1_serves_through_the_load_balancer_from_every_app_host(facts, app_names):
    lb = facts["fleet_lb_url"].split("//", 1)[1].rstrip("/")
    seen = set()
    for _attempt in range(4 * len(app_names)):
        status, headers, body = http_get(lb, "/")
        assert status == 200, body
        assert headers.get("X-App-Version") == "v1"
        payload = json.loads(body)
        assert payload["message"] == "hello" and payload["version"] == "v1"
        seen.add(payload["host"])
    assert seen == set(app_names)


def test_db_endpoint_writes_through_the_load_balancer(facts):
    lb = facts["fleet_lb_url"].split("//", 1)[1].rstrip("/")
    counts = []
    for _attempt in range(3):
        status, headers, body = http_get(lb, "/db")
        assert status == 200, body
        counts.append(json.loads(body)["visits"])
    assert counts == sorted(counts) and counts[-1] - counts[0] == 2


def test_database_is_reachable_from_the_controller(facts):
    with fleet_db(facts) as conn:
        assert conn.execute("SELECT count(*) FROM visits").fetchone()[0] >= 3


def test_release_tarballs_are_ready_on_the_controller(facts):
    manifest = json.loads((Path(facts["fleet_releases_dir"]) / "releases.json").read_text())
    assert {"v1", "v2", "v2-never-ready", "v2-smoke-fail", "v2-5xx", "v2-slow-stop"} <= set(manifest)
    for release in manifest.values():
        data = Path(release["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == release["sha256"]
