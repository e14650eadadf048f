# -*- coding: utf-8 -*-
# Copyright: zerodown.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Private to the zerodown.deploy collection: migration files on disk.

One place that knows how migration tools name, order and section their files,
used by both ``migration_check`` (what would run) and ``migration_apply``
(what does run), so the two can never disagree about the pending set:

* ordering by version prefix, numerically, as goose, golang-migrate, Flyway,
  sqlx, Django/Rails-style timestamps do (``2`` before ``10``);
* golang-migrate / sqlx pairs: ``*.up.sql`` runs, ``*.down.sql`` never does;
* goose sections: only ``-- +goose Up`` counts; Down lines are blanked so line
  numbers in findings still match the file;
* contract migrations (drops, the second half of renames) are marked with a
  ``-- zerodown:contract`` line or a ``.contract.sql`` suffix; they never run
  during a deploy, only through ``contract.yml``.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import List, Optional

from ansible_collections.zerodown.deploy.plugins.module_utils import _validate as validate

_VERSION_RE = re.compile(r"^(?:[VvUu](?=\d))?(?P<version>\d+(?:[._]\d+)*)(?:__?|-|\.|$)")
# goose "-- +goose Up", sql-migrate "-- +migrate Up", dbmate "-- migrate:up": the same Up/Down sectioning
_GOOSE_RE = re.compile(r"^\s*--\s*(?:\+goose\s+|\+migrate\s+|migrate:)(?P<what>Up|Down)\b", re.IGNORECASE)
_CONTRACT_RE = re.compile(r"^\s*--\s*zerodown:contract\b", re.IGNORECASE | re.MULTILINE)
_NO_TX_RE = re.compile(
    r"^\s*--\s*\+goose\s+NO\s+TRANSACTION\b|^\s*--\s*zerodown:no-transaction\b"
    r"|^\s*--\s*\+migrate\s+Up\s+notransaction\b|^\s*--\s*migrate:up\b.*\btransaction:false\b",
    re.IGNORECASE | re.MULTILINE,
)

SQL_SUFFIXES = (".sql",)
#: the files migration_check's rewrites are saved as (``<stem>.safe.sql``, ``<stem>.no-tx.safe.sql``, ...): never
#: migrations until someone renames them into place, so discovery skips them
REWRITE_SUFFIX = ".safe.sql"


class MigrationError(Exception):
    """A migration directory or file that cannot be used as it is."""


class MigrationFile:
    """One migration file: its id (the file name), ordering key and Up text."""

    __slots__ = ("path", "id", "version", "text", "up_sql", "checksum", "contract", "no_transaction")

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.id = os.path.basename(path)
        self.version = version_key(self.id)
        self.text = text
        self.up_sql = up_section(text)
        self.checksum = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
        self.contract = is_contract(self.id, text)
        self.no_transaction = bool(_NO_TX_RE.search(text))

    def __repr__(self) -> str:
        return "MigrationFile(%r)" % (self.id,)


def version_key(filename: str) -> tuple:
    """Sort key: numeric version prefix first (``V2__`` < ``V10__``), then name.

    Files without a version prefix sort after all versioned ones, by name,
    which is also what most tools do with repeatable or unversioned scripts.
    """
    match = _VERSION_RE.match(filename)
    if not match:
        return (1, (), filename)
    parts = tuple(int(p) for p in re.split(r"[._]", match.group("version")))
    return (0, parts, filename)


def is_contract(filename: str, text: str) -> bool:
    return filename.endswith(".contract.sql") or bool(_CONTRACT_RE.search(text))


def up_section(text: str) -> str:
    """The part of a file that an *up* migration runs.

    For goose files only ``-- +goose Up`` sections count; every other line is
    replaced by an empty line so that line numbers are preserved. Files
    without goose markers are returned unchanged.
    """
    lines = text.split("\n")
    if not any(_GOOSE_RE.match(line) for line in lines):
        return text
    keep = False
    out = []
    for line in lines:
        marker = _GOOSE_RE.match(line)
        if marker:
            keep = marker.group("what").lower() == "up"
            out.append("")
            continue
        out.append(line if keep else "")
    return "\n".join(out)


def read_text(path: str, max_bytes: int = 64 * 1024 * 1024) -> str:
    """Read a migration file as text; binary content is an error, not garbage findings.

    Only a regular file is read (``_validate.read_regular_file``): a FIFO or a device put in its place is refused
    instead of blocking the module or reading forever.
    """
    data = validate.read_regular_file(path, max_bytes, "migration file", MigrationError)
    if b"\x00" in data:
        raise MigrationError("%s is a binary file (it contains NUL bytes), not an SQL migration" % path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MigrationError("%s is not valid UTF-8 text (byte %d): save it as UTF-8" % (path, exc.start)) from exc


def discover(path: str, include_contract: bool = True) -> List[MigrationFile]:
    """Migration files under ``path`` (a file or a directory, not recursive), in run order.

    ``*.down.sql`` files and saved rewrites (``*.safe.sql``) are never returned. Raises MigrationError for a
    missing path or a directory without SQL files, and for a migration that
    is not a regular file inside the directory (``path``'s own directory for
    a file): a FIFO, a device, or a symlink leading out of it (to
    /etc/shadow, say, whose lines would be quoted back in the findings).
    """
    if not os.path.lexists(path):
        raise MigrationError("migration path %s does not exist: check the path (or zerodown_migrations_dir)" % path)
    if os.path.isdir(path):
        directory = path
        names = sorted(
            name
            for name in os.listdir(path)
            if name.endswith(SQL_SUFFIXES) and not name.endswith((".down.sql", REWRITE_SUFFIX))
        )
        paths = [os.path.join(path, name) for name in names]
    else:
        directory = os.path.dirname(os.path.abspath(path))
        paths = [path]
    # Read through the resolved path (read_text refuses a symlink), report under the name the user sees.
    files = [
        MigrationFile(p, read_text(validate.regular_file_inside(p, directory, "migration file", MigrationError)))
        for p in paths
    ]
    files.sort(key=lambda f: f.version)
    if not include_contract:
        files = [f for f in files if not f.contract]
    return files


def find_duplicate_versions(files: List[MigrationFile]) -> Optional[str]:
    """A message naming two files that claim the same version, or None."""
    seen = {}
    for f in files:
        if f.version[0] != 0:
            continue
        if f.version[1] in seen:
            return "%s and %s have the same version %s: give each migration its own version prefix" % (
                seen[f.version[1]],
                f.id,
                ".".join(str(p) for p in f.version[1]),
            )
        seen[f.version[1]] = f.id
    return None
