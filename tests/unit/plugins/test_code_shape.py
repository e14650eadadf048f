"""The shape the code keeps so that a new maintainer can pick it up (docs/architecture.md, "Modules and engines"):

- no function or method under plugins/ is rated D or worse by radon's cyclomatic complexity, but for the SQL
  splitter's character-level state machine (``_Splitter.run`` in plugins/module_utils/_sql/lexer.py, whose comment
  says why it stays one function; issue 26);
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


# (file under plugins/, block) allowed past C
STATE_MACHINES = {("module_utils/_sql/lexer.py", "_Splitter.run")}


def _python_files():
    return sorted(PLUGINS.rglob("*.py"))


def test_no_block_is_rated_d_or_worse():
    too_complex = [
        "%s:%d %s (%s, complexity %d)"
        % (path.relative_to(PLUGINS.parent), block.lineno, block.fullname, cc_rank(block.complexity), block.complexity)
        for path in _python_files()
        for block in cc_visit(path.read_text())
        if cc_rank(block.complexity) >= "D"
        and (path.relative_to(PLUGINS).as_posix(), block.fullname) not in STATE_MACHINES
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
