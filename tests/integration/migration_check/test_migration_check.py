"""migration_check through real Ansible (ad-hoc), on real files in a temporary directory.

The module only reads: each test checks the files are byte-for-byte unchanged after check mode and a real run,
and that a second run gives the same answer with changed=false.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

DROP = "ALTER TABLE users DROP COLUMN email;\n"


def _digest(directory: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    d = tmp_path / "migrations"
    d.mkdir()
    (d / "1_create_users.sql").write_text("CREATE TABLE users (id bigint PRIMARY KEY, email text);\n")
    (d / "2_add_index.sql").write_text(
        "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY users_email ON users (email);\n"
        "-- +goose Down\nDROP INDEX users_email;\n"
    )
    (d / "10_drop_email.sql").write_text("-- cleanup after v41\n" + DROP)
    (d / "10_drop_email.down.sql").write_text("ALTER TABLE users ADD COLUMN email text;\n")
    return d


def test_directory_check_mode_real_and_again(migrations: Path, module_runner) -> None:
    before = _digest(migrations)
    results = [
        module_runner("migration_check", {"path": str(migrations), "dialect": "postgresql"}, check=True),
        module_runner("migration_check", {"path": str(migrations), "dialect": "postgresql"}),
        module_runner("migration_check", {"path": str(migrations), "dialect": "postgresql"}),
    ]
    assert _digest(migrations) == before
    for result in results:
        assert result["failed"] and result["changed"] is False
        assert result["compatible"] is False
        # version order, 2 before 10; the .down.sql file is not a migration
        assert [Path(f["path"]).name for f in result["files"]] == [
            "1_create_users.sql",
            "2_add_index.sql",
            "10_drop_email.sql",
        ]
        assert [(Path(f["file"]).name, f["line"], f["rule"]) for f in result["findings"]] == [
            ("10_drop_email.sql", 2, "drop_column")
        ]
        finding = result["findings"][0]
        assert finding["severity"] == "error" and finding["waived"] is False
        assert finding["statement"] == "ALTER TABLE users DROP COLUMN email"
        assert "contract" in finding["remedy"]
        # one readable line per finding in the failure message
        line = [x for x in result["msg"].splitlines() if "drop_column" in x]
        assert len(line) == 1 and line[0].startswith(str(migrations / "10_drop_email.sql") + ":2 drop_column")
    assert results[1] == results[2]


def test_single_safe_file(tmp_path: Path, module_runner) -> None:
    path = tmp_path / "V3__add_nickname.sql"
    path.write_text(
        "ALTER TABLE users ADD COLUMN nickname varchar(40);\nCREATE INDEX CONCURRENTLY i ON users (nickname)"
    )
    for check in (True, False, False):
        result = module_runner("migration_check", {"path": str(path), "dialect": "postgresql"}, check=check)
        assert not result["failed"] and result["changed"] is False
        assert result["compatible"] is True
        assert result["findings"] == [] and result["report_lines"] == []
        assert result["files"] == [
            {"path": str(path), "compatible": True, "contract": False, "findings": [], "rewrite": None}
        ]


def test_inline_sql_mysql(module_runner) -> None:
    result = module_runner(
        "migration_check",
        {"sql": "ALTER TABLE orders MODIFY status VARCHAR(20) NOT NULL;", "dialect": "mysql"},
    )
    assert result["failed"] and result["compatible"] is False
    assert [(f["file"], f["line"], f["rule"]) for f in result["findings"]] == [("<sql>", 1, "set_not_null")]


def test_waiver_annotation_and_option(tmp_path: Path, module_runner) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "001_drop.sql").write_text("-- zerodown:waive drop_column reason: unused since v41, OPS-123\n" + DROP)
    (d / "002_truncate.sql").write_text("TRUNCATE sessions;\n")
    result = module_runner("migration_check", {"path": str(d), "dialect": "postgresql"})
    assert result["failed"]
    assert [(f["rule"], f["waived"], f["waiver_reason"]) for f in result["findings"]] == [
        ("drop_column", True, "unused since v41, OPS-123"),
        ("truncate", False, None),
    ]
    waivers = [{"rule": "truncate", "file": "*_truncate.sql", "reason": "sessions are disposable"}]
    result = module_runner("migration_check", {"path": str(d), "dialect": "postgresql", "waivers": waivers})
    assert not result["failed"] and result["compatible"] is True
    assert [(f["rule"], f["waived"]) for f in result["findings"]] == [("drop_column", True), ("truncate", True)]
    assert result["findings"][1]["waiver_reason"] == "sessions are disposable"


def test_contract_file_is_reported_but_does_not_block(tmp_path: Path, module_runner) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "001_add.sql").write_text("ALTER TABLE users ADD COLUMN email_v2 text;\n")
    (d / "002_drop_email.contract.sql").write_text(DROP)
    (d / "003_drop_phone.sql").write_text("-- zerodown:contract\nALTER TABLE users DROP COLUMN phone;\n")
    result = module_runner("migration_check", {"path": str(d), "dialect": "sqlite"})
    assert not result["failed"] and result["compatible"] is True
    assert [(Path(f["path"]).name, f["contract"], f["compatible"]) for f in result["files"]] == [
        ("001_add.sql", False, True),
        ("002_drop_email.contract.sql", True, True),
        ("003_drop_phone.sql", True, True),
    ]
    assert [f["rule"] for f in result["findings"]] == ["drop_column", "drop_column"]


def test_fail_on_incompatible_false(tmp_path: Path, module_runner) -> None:
    path = tmp_path / "001.sql"
    path.write_text(DROP)
    result = module_runner("migration_check", {"path": str(path), "dialect": "mysql", "fail_on_incompatible": False})
    assert not result["failed"] and result["changed"] is False
    assert result["compatible"] is False
    assert result["report_lines"][0].startswith(str(path) + ":1 drop_column")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"path": "/nonexistent/migrations", "dialect": "postgresql"}, "/nonexistent/migrations does not exist"),
        ({"sql": "SELECT 1", "dialect": "oracle"}, "oracle"),
        ({"sql": "SELECT 1", "path": "/tmp", "dialect": "mysql"}, "mutually exclusive"),
        ({"dialect": "mysql"}, "one of the following is required: path, sql"),
        (
            {"sql": "SELECT 1", "dialect": "mysql", "waivers": [{"rule": "drop_colum", "reason": "x"}]},
            "unknown rule 'drop_colum'",
        ),
        ({"sql": "SELECT 1", "dialect": "mysql", "waivers": [{"rule": "drop_column"}]}, "reason"),
        ({"sql": "SELECT 1", "dialect": "mysql", "on_undetermined": "ignore"}, "on_undetermined"),
    ],
)
def test_bad_input(args: dict, words: str, module_runner) -> None:
    result = module_runner("migration_check", args)
    assert result["failed"] and words in result["msg"], result["msg"]


def test_binary_file_and_empty_directory(tmp_path: Path, module_runner) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "001_blob.sql").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = module_runner("migration_check", {"path": str(d), "dialect": "postgresql"})
    assert result["failed"] and "001_blob.sql is a binary file" in result["msg"]
    empty = tmp_path / "empty"
    empty.mkdir()
    result = module_runner("migration_check", {"path": str(empty), "dialect": "postgresql"})
    assert not result["failed"] and result["compatible"] is True and result["files"] == []


def test_undetermined_blocks_by_default_and_warns_when_told(tmp_path: Path, module_runner) -> None:
    path = tmp_path / "0007_rebuild.sql"
    path.write_text(
        "CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n"
        "INSERT INTO users_new (id, email) SELECT id, email FROM users;\n"
        "DROP TABLE users;\nALTER TABLE users_new RENAME TO users;\n"
    )
    blocked = module_runner("migration_check", {"path": str(path), "dialect": "sqlite"})
    assert blocked["failed"] and blocked["compatible"] is False
    assert [(f["line"], f["rule"], f["severity"]) for f in blocked["findings"]] == [(4, "undetermined", "error")]
    assert "old definition" in blocked["findings"][0]["message"]
    assert "0007_rebuild.sql:4 undetermined" in blocked["msg"]
    warned = module_runner("migration_check", {"path": str(path), "dialect": "sqlite", "on_undetermined": "warn"})
    assert not warned["failed"] and warned["compatible"] is True
    assert [(f["rule"], f["severity"]) for f in warned["findings"]] == [("undetermined", "warning")]


def _history_dir(tmp_path: Path) -> Path:
    d = tmp_path / "history"
    d.mkdir()
    (d / "0001_users.sql").write_text("CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100));\n")
    (d / "0002_index.sql").write_text("CREATE INDEX users_email_key ON users (email);\n")
    (d / "0003_widen.sql").write_text(
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(320);\nDROP INDEX CONCURRENTLY users_email_key;\n"
    )
    (d / "0004_drop.contract.sql").write_text("ALTER TABLE users DROP COLUMN email;\n")
    return d


def test_pending_files_are_judged_with_the_history(tmp_path: Path, module_runner) -> None:
    d = _history_dir(tmp_path)
    before = _digest(d)
    args = {
        "path": str(d),
        "dialect": "postgresql",
        "pending": ["0003_widen.sql"],
        "unapplied": ["0004_drop.contract.sql"],
    }
    for check in (True, False):
        result = module_runner("migration_check", args, check=check)
        assert not result["failed"], result.get("msg")
        assert result["compatible"] is True and result["changed"] is False
        assert [Path(f["path"]).name for f in result["files"]] == ["0003_widen.sql"]
        assert [Path(p).name for p in result["history"]] == ["0001_users.sql", "0002_index.sql"]
        assert result["findings"] == []
    assert _digest(d) == before
    # without the history the widening and the "key" index are what the checker cannot tell apart
    alone = module_runner("migration_check", dict(args, history=False), check=True)
    assert alone["failed"] and sorted(f["rule"] for f in alone["findings"]) == ["alter_type", "drop_unique_constraint"]
    assert alone["history"] == []


def test_a_single_file_is_judged_after_the_files_before_it(tmp_path: Path, module_runner) -> None:
    d = _history_dir(tmp_path)
    (d / "0003_widen.sql").write_text("ALTER TABLE users ALTER COLUMN email TYPE varchar(50);\n")
    result = module_runner("migration_check", {"path": str(d / "0003_widen.sql"), "dialect": "postgresql"})
    assert result["failed"] and result["compatible"] is False
    assert [Path(p).name for p in result["history"]] == ["0001_users.sql", "0002_index.sql"]
    finding = result["findings"][0]
    assert finding["rule"] == "alter_type"
    assert "was varchar(100), per the migration history (0001_users.sql)" in finding["message"]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"pending": ["0009_nope.sql"]}, "not in"),
        ({"unapplied": ["0004_drop.contract.sql"]}, "unapplied goes with pending"),
    ],
)
def test_bad_pending(tmp_path: Path, module_runner, extra: dict, words: str) -> None:
    d = _history_dir(tmp_path)
    result = module_runner("migration_check", dict({"path": str(d), "dialect": "postgresql"}, **extra))
    assert result["failed"] and words in result["msg"], result["msg"]
    file_result = module_runner(
        "migration_check", {"path": str(d / "0001_users.sql"), "dialect": "postgresql", "pending": ["x.sql"]}
    )
    assert file_result["failed"] and "pending needs a directory path" in file_result["msg"]
