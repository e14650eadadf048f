"""v1 answers through the load balancer from every app host, and /db writes to db1."""

import json

from conftest import http_get

testinfra_hosts = ["ansible://lb1"]


def test_v1_serves_through_the_load_balancer_from_every_app_host(facts, app_names):
    lb = facts["fleet_lb_url"].split("//", 1)[1].rstrip("/")
    seen = set()
    for _ in range(4 * len(app_names)):
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
    for _ in range(3):
        status, headers, body = http_get(lb, "/db")
        assert status == 200, body
        counts.append(json.loads(body)["visits"])
    assert counts == sorted(counts) and counts[-1] - counts[0] == 2
