# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: which blue-green colour is live, from the load balancer itself.

A deploy tool that remembers the live colour in its own records is wrong as
soon as someone switches by hand; the load balancer is the only truth. A
colour is live when one of its servers takes new traffic (state ready, weight
above 0) on every load balancer. Exactly one live colour: the other is idle.
Both live on the same release (a fleet bootstrapped, or run by the rolling
strategy): adopted, the colour named by ``adopt`` stays live and the other is
drained first. Both live on different releases, or neither live: refused,
saying what was found, before any change.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence

from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils.lb import core as lb

COLOURS = ("blue", "green")


class ColourError(ValueError):
    """The fleet is not in a state a blue-green deploy can start from; nothing was changed."""


def decide(
    serving: Dict[str, Sequence[str]],
    colours: Dict[str, Sequence[str]],
    servers: Dict[str, str],
    releases: Dict[str, Any],
    adopt: str = "blue",
    release: Any = None,
) -> Dict[str, Any]:
    """``serving``: per load balancer, the servers taking new traffic; ``colours``: colour -> inventory hosts;
    ``servers``: host -> server; ``releases``: host -> the release it runs (None: nothing); ``release``: the one
    being deployed - ``up_to_date`` when the single live colour runs it already (a re-run changes nothing)."""
    check_colours(colours, adopt)
    found = serving_by_colour(serving, colours, servers)
    live = [c for c in COLOURS if any(found[c].values())]
    if len(live) == 2:
        check_agree(found)
    releases_of = {c: sorted({str(releases.get(h)) for h in colours[c]}) for c in COLOURS}
    out: Dict[str, Any] = {"serving": found, "releases": releases_of, "adopted": False}
    if not live:
        raise ColourError(
            "neither colour is live: no server of blue (%s) or green (%s) takes traffic; enable the colour that "
            "should serve, then deploy again" % (", ".join(colours["blue"]), ", ".join(colours["green"]))
        )
    if len(live) == 2:
        live = [adopt_one(releases_of, adopt)]
        out["adopted"] = True
    out.update(colour_fields(live[0], colours, servers))
    out["up_to_date"] = release is not None and not out["adopted"] and releases_of[live[0]] == [str(release)]
    return out


def check_colours(colours: Dict[str, Sequence[str]], adopt: str) -> None:
    if set(colours) != set(COLOURS):
        raise ColourError("colours must be exactly blue and green, got %s" % ", ".join(sorted(colours)))
    if adopt not in COLOURS:
        raise ColourError("adopt must be blue or green, got %r" % (adopt,))


def serving_by_colour(
    serving: Dict[str, Sequence[str]], colours: Dict[str, Sequence[str]], servers: Dict[str, str]
) -> Dict[str, Dict[str, List[str]]]:
    """Per colour and load balancer, the hosts whose servers take new traffic."""
    return {
        colour: {lb: sorted(h for h in hosts if servers.get(h, h) in set(names)) for lb, names in serving.items()}
        for colour, hosts in colours.items()
    }


def check_agree(found: Dict[str, Dict[str, List[str]]]) -> None:
    """Both colours live: on every load balancer, or the load balancers disagree."""
    if [c for c in COLOURS if not all(found[c].values())]:
        raise ColourError(
            "the load balancers disagree about which colour is live (%s); put them in the same state first"
            % describe(found)
        )


def adopt_one(releases_of: Dict[str, List[str]], adopt: str) -> str:
    """Both colours live: adopted when they serve the same release, refused when not."""
    if len(releases_of["blue"]) == 1 and releases_of["blue"] == releases_of["green"]:
        return adopt
    raise ColourError(
        "both colours are live on different releases (blue runs %s, green runs %s): a blue-green deploy "
        "needs one live colour; finish the rollout with zerodown_strategy=rolling, or take one colour out"
        % ("/".join(releases_of["blue"]), "/".join(releases_of["green"]))
    )


def colour_fields(live: str, colours: Dict[str, Sequence[str]], servers: Dict[str, str]) -> Dict[str, Any]:
    idle = [c for c in COLOURS if c != live][0]
    return dict(
        live=live,
        idle=idle,
        live_hosts=list(colours[live]),
        idle_hosts=list(colours[idle]),
        live_servers=[servers.get(h, h) for h in colours[live]],
        idle_servers=[servers.get(h, h) for h in colours[idle]],
    )


def describe(found: Dict[str, Dict[str, List[str]]]) -> str:
    return "; ".join(
        "%s: %s" % (colour, ", ".join("%s serves %s" % (lb, ", ".join(h) or "nothing") for lb, h in per.items()))
        for colour, per in found.items()
    )


def releases_by_host(value: Any) -> Dict[str, Any]:
    """``releases`` as host -> release: a dict as given, or the zerodown_release_state facts of every host."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list) and all(isinstance(v, dict) and "host" in v for v in value):
        return {v["host"]: v.get("previous") for v in value}
    raise ColourError(
        "releases must be a list of zerodown_release_state facts or a dict of host -> release, got %r" % (value,)
    )


def run(params: Mapping[str, Any], check_mode: bool) -> Dict[str, Any]:
    """The blue_green_state module: read every load balancer, then ``decide``. It only reads, so check mode is the
    same run."""
    result: Dict[str, Any] = dict(changed=False, serving={})
    try:
        resolved = lb.resolve_params({"load_balancer": params["load_balancer"]})
        providers = lb.providers_from_params(resolved)
        states = {pid: lb.snapshot(servers) for pid, servers in lb.read_all(providers, resolved["backend"]).items()}
        result.update(
            decide(
                lb.serving(states),
                params["colours"],
                params["servers"],
                releases_by_host(params["releases"]),
                params["adopt"],
                params["release"],
            )
        )
    except (lb.LBError, ColourError) as exc:
        raise ModuleFailure("blue-green: %s; nothing was changed" % exc, result) from exc
    return result
