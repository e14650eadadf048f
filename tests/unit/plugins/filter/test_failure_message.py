"""failure_message gives the same text as the Jinja expression it replaced in playbooks/tasks/abort.yml."""

from __future__ import annotations

import pytest

from ansible_collections.zerodown.deploy.plugins.filter.failure_message import FilterModule, failure_message

CASES = [
    ({"msg": "drain timed out"}, "drain timed out"),
    ({}, "failed"),
    ({"msg": ""}, ""),
    (
        {
            "results": [{"failed": False, "msg": "ok"}, {"failed": True, "msg": "lb2: socket gone"}],
            "msg": "One or more",
        },
        "lb2: socket gone",
    ),
    ({"results": [{"failed": True, "msg": "first"}, {"failed": True, "msg": "second"}], "msg": "x"}, "first"),
    ({"results": [{"failed": True}], "msg": "One or more items failed"}, "One or more items failed"),
    ({"results": [{"failed": True, "msg": ""}], "msg": "outer"}, "outer"),
    ({"results": [{"failed": True, "msg": ""}]}, "failed"),
    ({"results": [{"msg": "no failed key"}, {"skipped": True}], "msg": "outer"}, "outer"),
    ({"results": [], "msg": "outer"}, "outer"),
    (None, "failed"),
]


@pytest.mark.parametrize("result, expected", CASES, ids=[str(i) for i in range(len(CASES))])
def test_failure_message(result, expected):
    assert failure_message(result) == expected


@pytest.mark.parametrize("result, expected", CASES, ids=[str(i) for i in range(len(CASES))])
def test_the_same_as_the_jinja_expression(result, expected):
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    expression = (
        "{{ (r.results | default([]) | selectattr('failed', 'defined') | selectattr('failed') | map(attribute='msg')"
        " | first) | default(r.msg | default('failed'), true) }}"
    )
    variables = {} if result is None else {"r": result}
    if result is None:
        expression = expression.replace("r.results", "r_undefined.results").replace("r.msg", "r_undefined.msg")
    templar = Templar(loader=DataLoader(), variables=variables)
    assert templar.template(trust_as_template(expression)) == expected


def test_registered():
    assert FilterModule().filters() == {"failure_message": failure_message}
