"""The migration_check module's engine (_migration_check.run), without AnsibleModule: which files are judged, which
are replayed as history, and the module's failures."""

from __future__ import annotations

import pytest
from zerodown_testkit.support.migration_check_params import check_params

from ansible_collections.zerodown.deploy.plugins.module_utils import _migration_check
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure


@pytest.fixture
def migrations(tmp_path):
    root = tmp_path / "migrations"
    root.mkdir()
    (root / "001_create.sql").write_text("CREATE TABLE items (id integer PRIMARY KEY, note text);\n")
    (root / "002_drop.sql").write_text("ALTER TABLE items DROP COLUMN note;\n")
    (root / "003_add.sql").write_text("ALTER TABLE items ADD COLUMN name text;\n")
    return root


def test_a_directory_is_judged_file_by_file_and_a_drop_is_blocking(migrations):
    with pytest.raises(ModuleFailure) as exc:
        _migration_check.run(check_params(str(migrations)), check_mode=False)
    result = exc.value.result
    assert exc.value.msg.startswith("migrations are not backward compatible (1 blocking finding); fix them the ")
    # the finding's line, then its safe rewrite (the drop, held for contract.yml) indented below it
    assert exc.value.msg.endswith(":\n" + result["rewrite_lines"][0]) and "msg" not in result
    assert result["rewrite_lines"][0].startswith(result["report_lines"][0] + "\n    safe rewrite: ")
    assert result["rewrite_lines"][0].endswith("\n    -- zerodown:contract\n    ALTER TABLE items DROP COLUMN note;")
    assert result["compatible"] is False and result["changed"] is False and result["schema_aware"] is False
    assert [f["rule"] for f in result["findings"]] == ["drop_column"] and result["history"] == []
    assert len(result["files"]) == 3


def test_pending_files_are_judged_after_the_others_are_replayed(migrations):
    out = _migration_check.run(check_params(str(migrations), pending=["003_add.sql"]), check_mode=True)
    assert out["compatible"] is True and out["history"] == [
        str(migrations / n) for n in ("001_create.sql", "002_drop.sql")
    ]
    assert [f["path"] for f in out["files"]] == [str(migrations / "003_add.sql")]


def test_a_single_file_replays_the_files_before_it_unless_history_is_off(migrations):
    path = str(migrations / "003_add.sql")
    assert _migration_check.run(check_params(path), False)["history"] == [
        str(migrations / "001_create.sql"),
        str(migrations / "002_drop.sql"),
    ]
    assert _migration_check.run(check_params(path, history=False), False)["history"] == []


def test_an_incompatible_result_is_returned_when_asked_not_to_fail():
    out = _migration_check.run(check_params(sql="DROP TABLE items;", fail_on_incompatible=False), False)
    assert out["compatible"] is False and out["report_lines"] and "msg" not in out


@pytest.mark.parametrize(
    "options, message",
    [
        ({"waivers": [{"rule": "nope", "file": None, "reason": "r"}]}, "waivers: unknown rule 'nope'; use one of: "),
        (
            {"waivers": [{"rule": "drop_column", "file": None, "reason": " "}]},
            "waivers: the waiver for drop_column needs a non-empty reason",
        ),
        ({"sql": "SELECT 1;", "path": None, "pending": []}, "pending goes with a directory path, not with sql"),
        ({"unapplied": ["x.sql"]}, "unapplied goes with pending: name the pending files too"),
        ({"small_table_rows": -1}, "small_table_rows"),
        ({"pending": ["009_none.sql"]}, "pending/unapplied name files that are not in "),
    ],
)
def test_options_that_cannot_be_checked_are_refused(migrations, options, message):
    with pytest.raises(ModuleFailure) as exc:
        _migration_check.run(check_params(**dict({"path": str(migrations)}, **options)), False)
    assert message in exc.value.msg


def test_a_single_file_takes_no_pending_list(migrations):
    with pytest.raises(ModuleFailure, match="pending needs a directory path, and .*003_add.sql is a file"):
        _migration_check.run(check_params(str(migrations / "003_add.sql"), pending=[]), False)


def test_a_schema_dsn_error_never_shows_its_password(monkeypatch):
    from ansible_collections.zerodown.deploy.plugins.module_utils import _schema_catalog

    def refuse(dsn, dialect, **kwargs):
        raise _schema_catalog.CatalogError("cannot connect to %s with %s" % (dsn, kwargs["password"]))

    monkeypatch.setattr(_schema_catalog, "read_catalog", refuse)
    params = check_params(sql="SELECT 1;", schema_dsn="postgresql://app:dsn-pw@db9/shop", schema_password="opt-pw")
    with pytest.raises(ModuleFailure) as exc:
        _migration_check.run(params, False)
    assert exc.value.msg.startswith("schema_dsn: cannot connect to ")
    assert "dsn-pw" not in exc.value.msg and "opt-pw" not in exc.value.msg


def test_a_reader_bug_is_a_message_with_its_traceback(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(_migration_check, "analyze_sql", broken)
    with pytest.raises(ModuleFailure) as exc:
        _migration_check.run(check_params(sql="SELECT 1;"), False)
    assert exc.value.msg == "migration_check could not analyse the input: boom"
    assert "RuntimeError: boom" in exc.value.result["exception"]
