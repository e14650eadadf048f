"""The one module wrapper (_module.run_module): the input checks, the masking and the failure shape every module
gets from it, tested with a tiny engine instead of a real module."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure, run_module

SPEC = dict(name=dict(type="str"), url=dict(type="str"), count=dict(type="int", default=1))


def call(capsys, args, run, **kwargs):
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        run_module(SPEC, run, **kwargs)
    return exc.value.code, json.loads(capsys.readouterr().out)


def test_the_engine_gets_the_checked_params_and_check_mode(capsys):
    seen = []

    def run(params, check_mode):
        seen.append((dict(params), check_mode))
        return dict(changed=True, name=params["name"])

    code, out = call(capsys, {"name": "web1", "_ansible_check_mode": True}, run)
    assert code == 0 and out["changed"] is True and out["name"] == "web1"
    assert seen == [({"name": "web1", "url": None, "count": 1}, True)]


def test_a_nul_byte_is_refused_before_the_engine_runs(capsys):
    def run(params, check_mode):  # pragma: no cover - must not run
        raise AssertionError("the engine ran")

    code, out = call(capsys, {"name": "we\x00b1"}, run)
    assert code == 1 and "name holds a NUL byte" in out["msg"]


def test_a_number_not_in_ascii_digits_is_refused(capsys):
    code, out = call(capsys, {"count": "\u0661"}, lambda params, check_mode: {})
    assert code == 1 and "count" in out["msg"]


def test_a_failure_keeps_the_partial_result_and_masks_the_credentials(capsys):
    def run(params, check_mode):
        raise ModuleFailure("could not reach %s" % params["url"], {"changed": True}, current={"web1": "drain"})

    code, out = call(capsys, {"url": "https://deploy:s3cret-pw@lb.example/"}, run)
    assert code == 1
    assert out["changed"] is True and out["current"] == {"web1": "drain"}
    assert "s3cret-pw" not in json.dumps(out)


def test_secrets_found_by_the_module_are_masked_too(capsys):
    def run(params, check_mode):
        return dict(changed=False, echo="token=%s" % params["name"])

    code, out = call(capsys, {"name": "hunter2-secret"}, run, secrets=lambda params: [params["name"], None])
    assert code == 0 and "hunter2-secret" not in json.dumps(out)


def test_diff_is_passed_only_when_the_module_supports_it(capsys):
    def run(params, check_mode, diff):
        return dict(changed=False, diff_asked=diff)

    code, out = call(capsys, {"_ansible_diff": True}, run, diff=True)
    assert code == 0 and out["diff_asked"] is True


@pytest.mark.parametrize("fails", [False, True])
def test_warnings_in_the_result_are_the_module_s_own_warnings(capsys, monkeypatch, fails):
    # recorded here: where AnsibleModule puts a warning depends on whether a controller module was imported before
    warned, deprecated = [], []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, warning, **kw: warned.append(warning))
    monkeypatch.setattr(AnsibleModule, "deprecate", lambda self, msg, **kw: deprecated.append(msg))

    def run(params, check_mode):
        result = dict(changed=True, warnings=["these files were not atomic"])
        if fails:
            raise ModuleFailure("it broke", result)
        return result

    code, out = call(capsys, {}, run)
    assert code == (1 if fails else 0) and out["changed"] is True
    assert warned == ["these files were not atomic"]
    assert deprecated == []  # ansible-core deprecates passing warnings to exit_json or fail_json


def test_what_only_the_module_has_is_passed_as_keyword_arguments(capsys):
    def run(params, check_mode, run_command, tmpdir):
        return dict(changed=False, rc=run_command(["true"])[0], tmpdir=tmpdir())

    def from_module(module):
        return dict(run_command=lambda cmd: (7, "", ""), tmpdir=lambda: type(module).__name__)

    code, out = call(capsys, {}, run, from_module=from_module)
    assert code == 0 and out["rc"] == 7 and out["tmpdir"] == "AnsibleModule"
