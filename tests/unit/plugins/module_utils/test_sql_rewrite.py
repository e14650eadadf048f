"""Safe rewrites (_sql/rewrite.py): every rule with a known safe form returns one, and every rewrite passes the gate
itself, judged alone and after the history (the cases: zerodown_testkit/support/rewrite_cases.py; that they do the
same thing on real databases: tests/integration/migration_apply/test_rewrites.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from zerodown_testkit.support.migration_check_params import check_params
from zerodown_testkit.support.rewrite_cases import CASES

from ansible_collections.zerodown.deploy.plugins.module_utils import _migration_check
from ansible_collections.zerodown.deploy.plugins.module_utils._migrations import discover
from ansible_collections.zerodown.deploy.plugins.module_utils._module import ModuleFailure
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import Catalog
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.findings import rewrite_text
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.registry import RULES
from ansible_collections.zerodown.deploy.plugins.module_utils._sql.rewrite import NO_REWRITE, REWRITES
from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import analyze_sql


def _before(case, history) -> Catalog:
    """What is known before the migration: nothing (alone), or the setup replayed as the history."""
    catalog = Catalog()
    if history:
        analyze_sql(case.setup, case.dialect, "0001_setup.sql", catalog=catalog, history=True)
    return catalog


def _checked(case, history):
    """The migration's report, and a catalog as it was before the migration ran (the rewrite runs instead of it)."""
    return analyze_sql(case.migration, case.dialect, "0002_change.sql", catalog=_before(case, history)), _before(
        case, history
    )


@pytest.mark.parametrize("history", [False, True], ids=["alone", "with-history"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_blocking_finding_has_a_rewrite_that_passes_the_gate(case, history):
    report, catalog = _checked(case, history)
    blocking = [f for f in report.findings if f.blocking]
    assert sorted({f.rule for f in blocking}) == sorted(case.rules + (() if history else case.alone))
    assert all(f.rewrite and f.rewrite["note"] for f in blocking), [f.rule for f in blocking if not f.rewrite]
    assert report.rewrite["complete"] is True
    names = [f["name"] for f in report.rewrite["files"]]
    assert names[0] == "0002_change.safe.sql" and all(n.endswith(".safe.sql") for n in names)
    # the rewritten file, then what runs without a transaction, then the contract part: each judged in that order,
    # the way migration_apply and contract.yml run them, the contract part as a contract file
    for saved in report.rewrite["files"]:
        again = analyze_sql(saved["sql"], case.dialect, saved["name"], catalog=catalog)
        assert again.compatible, (saved["name"], [f.one_line() for f in again.findings])
        assert again.contract is (saved["runs"] == "contract")
        errors = [f.one_line() for f in again.findings if f.severity == "error"]
        assert again.contract or errors == [], errors


def test_every_rule_either_has_a_rewrite_or_says_why_not():
    assert set(REWRITES) | set(NO_REWRITE) == set(RULES)
    assert not set(REWRITES) & set(NO_REWRITE)
    assert all(reason.strip() for reason in NO_REWRITE.values())


def test_every_rewrite_is_exercised_by_a_case_of_each_dialect_its_rule_applies_to():
    seen = {(rule, c.dialect) for c in CASES for rule in c.rules}
    for rule in REWRITES:
        dialects = {"mysql"} if rule in ("table_rewrite", "lock_table") else set(RULES[rule].dialects)
        if rule == "drop_unique_constraint":
            dialects -= {"sqlite"}  # SQLite has no DROP CONSTRAINT; its unique index drop is drop_index_blocking's
        if rule == "set_not_null":
            dialects -= {"sqlite"}  # SQLite makes a column NOT NULL only by a rebuild: no rewrite
        assert {(rule, d) for d in dialects} <= seen, rule


def test_the_rewrite_of_an_index_build_is_concurrently_in_a_file_without_a_transaction():
    report = analyze_sql("CREATE INDEX t_a_idx ON t (a);\n", "postgresql", "migrations/0042_index.sql")
    (finding,) = report.findings
    assert finding.rewrite["sql"] == ""
    (extra,) = finding.rewrite["files"]
    assert extra == {
        "name": "0042_index.no-tx.safe.sql",
        "runs": "no_transaction",
        "sql": "-- zerodown:no-transaction\nCREATE INDEX CONCURRENTLY t_a_idx ON t (a);\n",
    }
    main = report.rewrite["files"][0]
    assert main["sql"] == "-- zerodown: moved to 0042_index.no-tx.safe.sql\n"


def test_the_rest_of_the_file_is_kept_and_the_moved_parts_keep_their_order():
    sql = (
        "ALTER TABLE t ADD COLUMN b int; -- kept\nCREATE INDEX t_a_idx ON t (a);\n"
        "ALTER TABLE t ALTER COLUMN a SET NOT NULL;\nALTER TABLE t DROP COLUMN c;\n"
    )
    files = analyze_sql(sql, "postgresql", "0003_x.sql").rewrite["files"]
    assert [f["runs"] for f in files] == ["migration", "no_transaction", "contract"]
    assert files[0]["sql"].startswith("ALTER TABLE t ADD COLUMN b int; -- kept\n-- zerodown: moved to ")
    no_tx = files[1]["sql"].split("\n")
    assert no_tx[1] == "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);"
    assert no_tx[2:6] == [
        "ALTER TABLE t ADD CONSTRAINT t_a_not_null CHECK (a IS NOT NULL) NOT VALID;",
        "ALTER TABLE t VALIDATE CONSTRAINT t_a_not_null;",
        "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
        "ALTER TABLE t DROP CONSTRAINT t_a_not_null;",
    ]
    assert files[2]["sql"] == "-- zerodown:contract\nALTER TABLE t DROP COLUMN c;\n"


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0), ADD COLUMN b int;",  # several actions
        "ALTER TABLE t ADD COLUMN u uuid UNIQUE DEFAULT gen_random_uuid();",  # a constraint beside the default
        "ALTER TABLE t ADD COLUMN id2 bigserial;",  # a serial needs its sequence: the author's to write
        "ALTER TABLE t ADD COLUMN n int CHECK (n > 0) NOT NULL;",  # the inline CHECK does not end the definition
        "DO $$ BEGIN CREATE INDEX t_a_idx ON t (a); END $$;",  # inside a body
    ],
)
def test_a_statement_that_cannot_be_rewritten_exactly_gets_none(sql):
    report = analyze_sql(sql, "postgresql")
    assert [f for f in report.findings if f.blocking]
    assert all(f.rewrite is None for f in report.findings)
    assert report.rewrite is None


def test_quoted_and_qualified_names_are_kept_as_written():
    report = analyze_sql('ALTER TABLE app."Users" RENAME TO members;', "postgresql")
    (finding,) = report.findings
    assert finding.rewrite["sql"] == 'CREATE VIEW app.members AS SELECT * FROM app."Users";\n'
    assert finding.rewrite["files"][0]["sql"].endswith(
        'DROP VIEW app.members;\nALTER TABLE app."Users" RENAME TO members;\n'
    )


def test_saved_rewrites_are_never_discovered_as_migrations(tmp_path):
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (id int);\n")
    (tmp_path / "0002_b.sql").write_text("CREATE INDEX a_id ON a (id);\n")
    (tmp_path / "0002_b.safe.sql").write_text("-- zerodown: moved\n")
    (tmp_path / "0002_b.no-tx.safe.sql").write_text(
        "-- zerodown:no-transaction\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n"
    )
    assert [f.id for f in discover(str(tmp_path))] == ["0001_a.sql", "0002_b.sql"]


def test_the_module_message_shows_each_rewrite_below_its_finding_once():
    params = check_params(sql="ALTER TABLE t ADD FOREIGN KEY (p_id) REFERENCES p (id);\n")
    with pytest.raises(ModuleFailure) as failure:
        _migration_check.run(params, check_mode=False)
    message = str(failure.value)
    rewrite = failure.value.result["findings"][0]["rewrite"]
    assert message.count(rewrite_text(rewrite).split("\n")[1]) == 1
    assert "safe rewrite: adds the FOREIGN KEY with NOT VALID" in message
    assert "    ALTER TABLE t ADD CONSTRAINT t_p_id_fkey FOREIGN KEY (p_id) REFERENCES p (id) NOT VALID;" in message
    assert "    ALTER TABLE t VALIDATE CONSTRAINT t_p_id_fkey;" in message
    assert failure.value.result["files"][0]["rewrite"]["complete"] is True


def test_the_docs_list_every_rule_with_its_rewrite_or_why_it_has_none():
    doc = (Path(__file__).resolve().parents[4] / "docs" / "modules" / "migration_check.md").read_text()
    section = doc.split("## Safe rewrites", 1)[1].split("\n## ", 1)[0]
    with_rewrite, without = section.split("Rules without a rewrite", 1)
    assert all("`%s`" % rule in with_rewrite for rule in REWRITES)
    assert all("`%s`" % rule in without for rule in NO_REWRITE)


def test_a_trailing_comment_does_not_swallow_the_terminator():
    report = analyze_sql("CREATE INDEX t_a_idx ON t (a) -- for the report page\n;\n", "postgresql")
    (extra,) = report.findings[0].rewrite["files"]
    assert extra["sql"] == "-- zerodown:no-transaction\nCREATE INDEX CONCURRENTLY t_a_idx ON t (a);\n"


def test_a_statement_ending_in_a_keyword_of_two_words_is_kept_whole():
    report = analyze_sql("ALTER TABLE t MODIFY a int NOT NULL -- now\n;\n", "mysql", "0007_x.sql")
    (extra,) = report.findings[0].rewrite["files"]
    assert extra["sql"] == "-- zerodown:contract\nALTER TABLE t MODIFY a int NOT NULL;\n"


def test_a_waived_statement_stays_in_the_file_and_a_contract_file_gets_no_rewrite():
    waived = analyze_sql(
        "-- zerodown:waive drop_column reason: unused since r40\nALTER TABLE t DROP COLUMN a;\n"
        "CREATE INDEX t_b_idx ON t (b);\n",
        "postgresql",
        "0005_x.sql",
    )
    drop, index = waived.findings
    assert drop.waived and drop.rewrite is not None, "the rewrite is still shown beside the waived finding"
    files = waived.rewrite["files"]
    assert [f["runs"] for f in files] == ["migration", "no_transaction"]
    assert "ALTER TABLE t DROP COLUMN a;" in files[0]["sql"]
    contract = analyze_sql("-- zerodown:contract\nALTER TABLE t DROP COLUMN a;\n", "postgresql", "0006_x.sql")
    assert contract.contract and contract.findings and contract.rewrite is None
    assert all(f.rewrite is None for f in contract.findings)
