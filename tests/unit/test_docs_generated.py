"""The module reference is generated from DOCUMENTATION (ansible-doc, make docs); docs/ never copies it.

A Markdown table under docs/ that lists a module's options is such a copy: one with an option / parameter
column, or one whose column names, in most of its rows, options of one module. Explanations that name an
option in a sentence or an example are what docs/ is for.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
HEADER_WORDS = {"option", "options", "parameter", "parameters", "argument", "arguments"}
FIRST_CODE = re.compile(r"`([A-Za-z_][A-Za-z0-9_.]*)")


def option_names(options: dict, prefix: str = "") -> set[str]:
    names = set()
    for name, spec in (options or {}).items():
        names.add(name)
        names.update(option_names((spec or {}).get("suboptions"), f"{prefix}{name}."))
    return names


@pytest.fixture(scope="module")
def module_options() -> dict[str, set[str]]:
    modules = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if not p.stem.startswith("_"))
    env = dict(
        os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"
    )
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "-t", "module", "--json"]
        + [f"zerodown.deploy.{m}" for m in modules],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    assert len(docs) == len(modules), sorted(set(modules) - {k.split(".")[-1] for k in docs})
    return {name: option_names(doc["doc"].get("options")) for name, doc in docs.items()}


def markdown_tables(text: str):
    """(line number, header cells, body rows) of each pipe table."""
    block: list[tuple[int, str]] = []
    for number, line in enumerate([*text.splitlines(), ""], start=1):
        if line.lstrip().startswith("|"):
            block.append((number, line))
            continue
        if len(block) >= 2 and re.fullmatch(r"\s*\|?(\s*:?-+:?\s*\|)+\s*:?-*:?\s*", block[1][1]):
            rows = [split_row(row) for _number, row in block]
            yield block[0][0], rows[0], rows[2:]
        block = []


def split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())
    return [c.strip() for c in cells[1:-1]]


def copies_of_options(header: list[str], rows: list[list[str]], options: dict[str, set[str]]) -> str | None:
    for cell in header:
        if cell.strip("` *").lower() in HEADER_WORDS:
            return f"a column named {cell!r}"
    for column in range(len(header)):
        firsts = []
        for row in rows:
            found = FIRST_CODE.search(row[column]) if column < len(row) else None
            firsts.append(found.group(1) if found else None)
        for module, names in options.items():
            hits = [f for f in firsts if f and f in names]
            if len(hits) >= 3 and 2 * len(hits) >= len(rows):
                return f"column {header[column]!r} lists options of {module}: {', '.join(hits)}"
    return None


def docs_pages() -> list[Path]:
    return sorted((REPO / "docs").rglob("*.md"))


def test_no_table_under_docs_lists_a_modules_options(module_options):
    copies = []
    for page in docs_pages():
        for line, header, rows in markdown_tables(page.read_text()):
            why = copies_of_options(header, rows, module_options)
            if why:
                copies.append(f"{page.relative_to(REPO)}:{line}: {why}")
    assert not copies, "option tables belong to DOCUMENTATION (ansible-doc, make docs):\n" + "\n".join(copies)


def test_the_check_finds_an_option_table(module_options):
    """The check above would see a copy of smoke_test's options, in either form."""
    by_header = "| option | what |\n|---|---|\n| `rounds` | how many times |\n"
    by_names = (
        "| name | default | what |\n|---|---|---|\n"
        "| `base_url` | | entry point |\n| `rounds` | `1` | repeats |\n| `expect_version` | | the release |\n"
    )
    for text in (by_header, by_names):
        [(_line, header, rows)] = list(markdown_tables(text))
        assert copies_of_options(header, rows, module_options), text
    explanation = "| assertion | failure reason |\n|---|---|\n| status code | `status 503 not in [200]` |\n"
    [(_line, header, rows)] = list(markdown_tables(explanation))
    assert copies_of_options(header, rows, module_options) is None


def test_every_hand_written_page_is_in_the_docsite():
    """scripts/docsite.py copies these pages; the docsite's toctrees (docs/docsite/rst) must reach each of them."""
    spec = importlib.util.spec_from_file_location("docsite", REPO / "scripts" / "docsite.py")
    docsite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(docsite)
    listed = [page for stub in docsite.EXTRA_DOCS.glob("*.rst") for page in docsite.section_pages(stub)]
    pages = {str(p.relative_to(REPO)) for p in docsite.hand_written_pages()}
    assert len(listed) == len(set(listed)), listed
    assert pages == set(listed), (
        "not in any section:",
        sorted(pages - set(listed)),
        "missing:",
        sorted(set(listed) - pages),
    )
    index = yaml.safe_load((REPO / "docs" / "docsite" / "extra-docs.yml").read_text())
    stubs = {p.stem for p in (REPO / "docs" / "docsite" / "rst").glob("*.rst")}
    assert {ref for section in index["sections"] for ref in section["toctree"]} == stubs
