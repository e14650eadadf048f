from __future__ import annotations

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._migrations import (
    MigrationError,
    discover,
    find_duplicate_versions,
    up_section,
    version_key,
)


def test_versions_sort_numerically_across_tool_conventions():
    names = ["V10__b.sql", "V2__a.sql", "V2.1__c.sql", "readme.sql", "0003_x.sql"]
    assert sorted(names, key=version_key) == ["V2__a.sql", "V2.1__c.sql", "0003_x.sql", "V10__b.sql", "readme.sql"]
    assert version_key("20240101120000_add_users.up.sql")[1] == (20240101120000,)


def test_goose_down_section_is_blanked_keeping_line_numbers():
    text = "-- +goose Up\nALTER TABLE t ADD c int;\n-- +goose Down\nALTER TABLE t DROP c;\n"
    up = up_section(text)
    assert up.split("\n")[1] == "ALTER TABLE t ADD c int;"
    assert "DROP" not in up
    assert len(up.split("\n")) == len(text.split("\n"))


def test_discover_orders_skips_down_files_and_marks_contract(tmp_path):
    (tmp_path / "10_c.sql").write_text("-- zerodown:contract\nALTER TABLE t DROP COLUMN old;\n")
    (tmp_path / "2_b.up.sql").write_text("ALTER TABLE t ADD c int;\n")
    (tmp_path / "2_b.down.sql").write_text("ALTER TABLE t DROP c;\n")
    (tmp_path / "1_a.sql").write_text("CREATE TABLE t (id int);\n")
    (tmp_path / "notes.txt").write_text("not sql")
    files = discover(str(tmp_path))
    assert [f.id for f in files] == ["1_a.sql", "2_b.up.sql", "10_c.sql"]
    assert [f.contract for f in files] == [False, False, True]
    assert [f.id for f in discover(str(tmp_path), include_contract=False)] == ["1_a.sql", "2_b.up.sql"]
    assert len(files[0].checksum) == 64


def test_binary_and_missing_inputs_are_clear_errors(tmp_path):
    with pytest.raises(MigrationError, match="does not exist"):
        discover(str(tmp_path / "nope"))
    (tmp_path / "1_bin.sql").write_bytes(b"\x00\x01binary")
    with pytest.raises(MigrationError, match="binary"):
        discover(str(tmp_path))


def test_duplicate_versions_are_named(tmp_path):
    (tmp_path / "1_a.sql").write_text("select 1;")
    (tmp_path / "001_b.sql").write_text("select 1;")
    assert "1_a.sql and 001_b.sql" in find_duplicate_versions(
        discover(str(tmp_path))
    ) or "001_b.sql and 1_a.sql" in find_duplicate_versions(discover(str(tmp_path)))
