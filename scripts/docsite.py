"""Build the collection's docsite: the reference generated from the plugins' and roles' own documentation, with
the hand-written pages beside it (make docs).

1. ``antsibull-docs sphinx-init`` writes a Sphinx project for zerodown.deploy (conf.py, build.sh) into DEST.
2. ``antsibull-docs collection`` writes one page per module, plugin and role from DOCUMENTATION / EXAMPLES /
   RETURN and meta/argument_specs.yml, and the collection index, whose sections come from
   docs/docsite/extra-docs.yml: the pages of docs/docsite/rst/ (collection "extra docs").
3. Each of those pages names, in a comment, the hand-written Markdown pages of its section (README.md,
   docs/**/*.md, roles/*/README.md). They are copied in under ``docsite/repo/`` with the repository's own layout,
   so that their relative links still resolve, and listed in a toctree appended to the built copy of the page
   (antsibull-docs' linter accepts only toctree entries that are files of docs/docsite/rst/). MyST reads them.
4. ``sphinx-build -W``: any warning fails, a page that no toctree reaches included.

No network: the generated pages link a few labels of the Ansible docsite (common return values, action plugins,
configuration settings); a local inventory of those labels resolves them to docs.ansible.com, and no inventory is
fetched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTION = "zerodown.deploy"
ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/devel/"
# label -> (page, title) on the Ansible docsite, for the links antsibull-docs writes into generated pages
ANSIBLE_LABELS = {
    "common_return_values": ("reference_appendices/common_return_values.html#common-return-values", "Return Values"),
    "action_plugins": ("plugins/action.html#action-plugins", "Action plugins"),
    "callback_plugins": ("plugins/callback.html#callback-plugins", "Callback plugins"),
    "ansible_configuration_settings": (
        "reference_appendices/config.html#ansible-configuration-settings",
        "Ansible Configuration Settings",
    ),
}
CONF = """
# --- added by scripts/docsite.py ---
extensions = [e for e in extensions if e != "sphinx.ext.intersphinx"] + ["sphinx.ext.intersphinx", "myst_parser"]
intersphinx_mapping = {"ansible_devel": (%(docs)r, "../ansible_devel.inv")}  # relative to rst/
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_heading_anchors = 4
# Code blocks in languages Pygments has no lexer for (haproxy, nginx configuration) are shown unhighlighted.
suppress_warnings = ["misc.highlighting_failure"]
"""


EXTRA_DOCS = REPO / "docs" / "docsite" / "rst"
PAGES_COMMENT = ".. Pages of this section"


def section_pages(stub: Path) -> list[str]:
    """The repository paths an extra-docs page names in its pages comment (indented lines ending in .md)."""
    lines = stub.read_text().splitlines()
    start = next((n for n, line in enumerate(lines) if line.startswith(PAGES_COMMENT)), None)
    if start is None:
        return []
    pages = []
    for line in lines[start + 1 :]:
        if line and not line.startswith(" "):
            break
        if line.strip().endswith(".md"):
            pages.append(line.strip())
    return pages


def hand_written_pages() -> list[Path]:
    pages = [REPO / "README.md"]
    pages += sorted((REPO / "docs").rglob("*.md"))
    pages += sorted((REPO / "roles").glob("*/README.md"))
    return [p for p in pages if "docsite" not in p.relative_to(REPO).parts]


def write_inventory(path: Path) -> None:
    """A Sphinx objects.inv (version 2) naming ANSIBLE_LABELS."""
    body = "".join(f"{label} std:label -1 {uri} {title}\n" for label, (uri, title) in sorted(ANSIBLE_LABELS.items()))
    header = "# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n# The remainder of this file is compressed using zlib.\n"
    path.write_bytes(header.encode() + zlib.compress(body.encode()))


def run(cmd: list[str], cwd: Path) -> None:
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="output directory (emptied); the HTML ends up in DEST/build/html")
    args = parser.parse_args()
    dest = args.dest.resolve()
    bindir = Path(sys.executable).parent
    antsibull_docs, sphinx_build = str(bindir / "antsibull-docs"), str(bindir / "sphinx-build")
    os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"  # antsibull-docs runs ansible-doc

    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    os.chmod(dest, 0o700)  # antsibull-docs refuses a directory others can write to
    run(
        [
            antsibull_docs,
            "sphinx-init",
            "--use-current",
            "--squash-hierarchy",
            "--fail-on-error",
            "--dest-dir",
            str(dest),
            "--project",
            COLLECTION,
            "--copyright",
            "zerodown.deploy maintainers",
            "--title",
            "zerodown.deploy",
            COLLECTION,
        ],
        REPO,
    )
    with (dest / "conf.py").open("a") as conf:
        conf.write(CONF % {"docs": ANSIBLE_DOCS})
    write_inventory(dest / "ansible_devel.inv")

    rst = dest / "rst"
    os.chmod(rst, 0o700)
    # What build.sh runs, with the hand-written pages copied in between.
    run(
        [
            antsibull_docs,
            "--config-file",
            "antsibull-docs.cfg",
            "collection",
            "--cleanup",
            "everything",
            "--fail-on-error",
            "--use-current",
            "--squash-hierarchy",
            "--dest-dir",
            "rst",
            COLLECTION,
        ],
        dest,
    )
    for page in hand_written_pages():
        target = rst / "docsite" / "repo" / page.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, target)
    for stub in sorted(EXTRA_DOCS.glob("*.rst")):
        entries = "".join(f"   repo/{page[: -len('.md')]}\n" for page in section_pages(stub))
        if entries:
            with (rst / "docsite" / stub.name).open("a") as built:
                built.write(f"\n.. toctree::\n   :maxdepth: 2\n\n{entries}")
    run([sphinx_build, "-M", "html", "rst", "build", "-c", ".", "-W", "--keep-going", "-q"], dest)
    print(f"docsite: {dest / 'build' / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
