"""Which colour is live comes from the load balancer; the decision is a pure function of what it serves."""

from __future__ import annotations

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils.lb.bluegreen import ColourError, decide

COLOURS = {"blue": ["app1", "app2"], "green": ["app3", "app4"]}
SERVERS = {h: "s" + h[-1] for h in ("app1", "app2", "app3", "app4")}
V1 = {h: "v1" for h in SERVERS}


def serving(*servers, lbs=("lb-a",)):
    return {lb: list(servers) for lb in lbs}


def test_one_live_colour_makes_the_other_idle():
    out = decide(serving("s1", "s2"), COLOURS, SERVERS, V1)
    assert (out["live"], out["idle"], out["adopted"]) == ("blue", "green", False)
    assert out["idle_hosts"] == ["app3", "app4"] and out["idle_servers"] == ["s3", "s4"]
    assert out["live_servers"] == ["s1", "s2"]
    assert decide(serving("s3"), COLOURS, SERVERS, V1)["live"] == "green"  # one server is enough


def test_both_live_on_one_release_is_adopted_with_the_named_colour():
    out = decide(serving("s1", "s2", "s3", "s4"), COLOURS, SERVERS, V1, adopt="green")
    assert out["adopted"] and out["live"] == "green" and out["idle"] == "blue"


def test_both_live_on_different_releases_is_refused_saying_what_it_found():
    with pytest.raises(ColourError, match="blue runs v1, green runs v2"):
        decide(serving("s1", "s3"), COLOURS, SERVERS, dict(V1, app3="v2", app4="v2"))


def test_neither_live_is_refused():
    with pytest.raises(ColourError, match="neither colour is live"):
        decide(serving(), COLOURS, SERVERS, V1)


def test_load_balancers_that_disagree_are_refused():
    two = {"lb-a": ["s1", "s2"], "lb-b": ["s3", "s4"]}
    with pytest.raises(ColourError, match="disagree"):
        decide(two, COLOURS, SERVERS, V1)
    assert decide({"lb-a": ["s1"], "lb-b": ["s2"]}, COLOURS, SERVERS, V1)["live"] == "blue"


@pytest.mark.parametrize("colours, adopt", [({"blue": ["a"]}, "blue"), (COLOURS, "red")])
def test_bad_input(colours, adopt):
    with pytest.raises(ColourError):
        decide(serving("s1"), colours, SERVERS, V1, adopt=adopt)
