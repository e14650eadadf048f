"""The shape the code keeps so that a new maintainer can pick it up (docs/architecture.md, "Modules and engines"):

- no function or method under plugins/ is rated D or worse by radon's cyclomatic complexity (the SQL reader in
  plugins/module_utils/_sql/ excepted: its rules are one branch per statement form);
- every module's ``main()`` only builds its argument spec and hands it to the module wrapper
  (``_module.run_module``): at most 40 lines, no AnsibleModule of its own, so the prelude (NUL check, masking,
  failure shape) exists once.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from radon.complexity import cc_rank, cc_visit

PLUGINS = Path(__file__).resolve().parents[3] / "plugins"
MODULES = sorted((PLUGINS / "modules").glob("*.py"))
MAX_MAIN_LINES = 40


def _python_files():
    for path in sorted(PLUGINS.rglob("*.py")):
        if "_sql" not in path.relative_to(PLUGINS).parts:
            yield path


def test_no_block_is_rated_d_or_worse():
    too_complex = [
        "%s:%d %s (%s, complexity %d)"
        % (path.relative_to(PLUGINS.parent), block.lineno, block.fullname, cc_rank(block.complexity), block.complexity)
        for path in _python_files()
        for block in cc_visit(path.read_text())
        if cc_rank(block.complexity) >= "D"
    ]
    assert not too_complex, "split these into smaller named functions:\n" + "\n".join(too_complex)


def _main(path):
    tree = ast.parse(path.read_text(), str(path))
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"), None)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_a_module_main_builds_its_spec_and_calls_the_wrapper(path):
    main = _main(path)
    if main is None:  # a module backed by an action plugin holds its documentation only
        return
    lines = main.end_lineno - main.lineno + 1
    assert lines <= MAX_MAIN_LINES, "%s: main() is %d lines; move the work into its engine's run()" % (path.name, lines)
    called = {n.func.id for n in ast.walk(main) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "run_module" in called and "AnsibleModule" not in called, (
        "%s: main() should call run_module (plugins/module_utils/_module.py), not build AnsibleModule" % path.name
    )
