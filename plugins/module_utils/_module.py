# -*- coding: utf-8 -*-
# Copyright (c) zerodown.deploy contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one module wrapper: every zerodown module's ``main()`` builds its AnsibleModule here and hands the checked
parameters to its engine's ``run(params, check_mode) -> result``.

The wrapper does, once for every module, what none of them should do by hand:

- refuse a NUL byte anywhere in the input and a number spelt with other than the digits 0-9
  (``_validate.input_problem``), before the engine sees anything;
- put every credential found in the parameters (``_secrets.secrets_in``, plus what the module's own ``secrets``
  function finds, e.g. the password inside a DSN) into ``no_log_values``, so the invocation and every message are
  masked;
- turn a ``ModuleFailure`` raised by the engine into ``fail_json`` with the engine's partial result, so a failure
  still reports what was changed before it;
- hand the ``warnings`` an engine returns in its result to ``module.warn``.

An engine therefore never imports AnsibleModule and is unit-tested with a plain dict of parameters. See
docs/architecture.md, "Modules and engines".
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Optional

from ansible.module_utils.basic import AnsibleModule, _load_params

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate
from ansible_collections.zerodown.deploy.plugins.module_utils._secrets import secrets_in


class ModuleFailure(Exception):
    """The engine's way to fail a module: ``msg`` is what the user reads, ``result`` what was found or changed
    before the failure (returned beside ``msg``)."""

    def __init__(self, msg: str, result: Optional[Mapping[str, Any]] = None, **extra: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = dict(result or {})
        self.result.update(extra)


def run_module(
    argument_spec: Mapping[str, Any],
    run: Callable[..., Mapping[str, Any]],
    *,
    secrets: Optional[Callable[[Mapping[str, Any]], Iterable[str]]] = None,
    diff: bool = False,
    from_module: Optional[Callable[[AnsibleModule], Mapping[str, Any]]] = None,
    **module_kwargs: Any,
) -> None:
    """Build the module from ``argument_spec`` (and AnsibleModule's other keyword arguments), check its input, and
    exit with ``run(params, check_mode)`` (``run(params, check_mode, diff=...)`` when ``diff`` is true).

    ``secrets`` returns the credentials the generic search cannot find (a DSN's password). ``from_module`` gives
    the engine what only the module has (its ``run_command``, its temporary directory) as more keyword arguments
    of ``run``. Check mode is supported unless ``supports_check_mode=False`` is given."""
    module_kwargs.setdefault("supports_check_mode", True)
    module = AnsibleModule(argument_spec=argument_spec, **module_kwargs)
    problem = validate.input_problem(module.params, module.argument_spec, _load_params())
    if problem:
        module.fail_json(msg=problem)
    module.no_log_values.update(secrets_in(module.params))
    try:
        if secrets is not None:
            module.no_log_values.update(s for s in secrets(module.params) if s)
        extra = dict(from_module(module)) if from_module is not None else {}
        if diff:
            extra["diff"] = module._diff
        result = run(module.params, module.check_mode, **extra)
    except ModuleFailure as exc:
        module.fail_json(msg=exc.msg, **_warned(module, exc.result))
    module.exit_json(**_warned(module, result))


def _warned(module: AnsibleModule, result: Mapping[str, Any]) -> dict:
    """``result`` without its ``warnings``, which go to ``module.warn``: AnsibleModule prints them the same, and
    ansible-core deprecates passing them to exit_json or fail_json."""
    result = dict(result)
    for warning in result.pop("warnings", None) or ():
        module.warn(warning)
    return result
