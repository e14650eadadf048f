"""The history-aware catalog: files that already ran, replayed, decide what the pending file does.

Each case is a verdict that depends on the prior schema: wrong (a false alarm, or a miss) without the history,
right with it, and the finding names where the fact came from.
"""

from __future__ import annotations

import pytest

from ansible_collections.zerodown.deploy.plugins.module_utils._sql.catalog import Catalog, ColumnInfo, TableInfo
from ansible_collections.zerodown.deploy.plugins.module_utils._sql_safety import analyze_sql


def judge(history: list, pending: str, dialect: str, pending_known: bool = False):
    catalog = Catalog(pending_known=pending_known)
    for i, sql in enumerate(history, 1):
        analyze_sql(sql, dialect, path="migrations/%04d_history.sql" % i, catalog=catalog, history=True)
    return analyze_sql(pending, dialect, path="migrations/0099_pending.sql", catalog=catalog)


def blocking(report) -> list:
    return sorted({f.rule for f in report.findings if f.blocking})


@pytest.mark.parametrize(
    ("dialect", "history", "pending", "alone", "with_history"),
    [
        # PostgreSQL varchar widening: safe only when the prior length is known to be smaller
        (
            "postgresql",
            ["CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100) NOT NULL);"],
            "ALTER TABLE users ALTER COLUMN email TYPE varchar(320);",
            ["alter_type"],
            [],
        ),
        (
            "postgresql",
            ["CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100) NOT NULL);"],
            "ALTER TABLE users ALTER COLUMN email TYPE varchar(50);",
            ["alter_type"],
            ["alter_type"],
        ),
        (
            "postgresql",
            ["CREATE TABLE users (id bigint PRIMARY KEY);", "ALTER TABLE users ADD COLUMN bio varchar(200);"],
            "ALTER TABLE users ALTER COLUMN bio TYPE text;",
            ["alter_type"],
            [],
        ),
        # MySQL MODIFY that only relaxes NULL on an unchanged type
        (
            "mysql",
            ["CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(100) NOT NULL);"],
            "ALTER TABLE orders MODIFY note VARCHAR(100) NULL;",
            ["alter_type"],
            [],
        ),
        # MySQL widening within the same length prefix, and across it
        (
            "mysql",
            ["CREATE TABLE orders (id INT PRIMARY KEY, code VARCHAR(20));"],
            "ALTER TABLE orders MODIFY code VARCHAR(60);",
            ["alter_type"],
            [],
        ),
        (
            "mysql",
            ["CREATE TABLE orders (id INT PRIMARY KEY, code VARCHAR(50)) DEFAULT CHARSET=utf8mb4;"],
            "ALTER TABLE orders MODIFY code VARCHAR(100);",
            ["alter_type"],
            ["table_rewrite"],
        ),
        # MySQL MODIFY that tightens NULL on a nullable column
        (
            "mysql",
            ["CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(100));"],
            "ALTER TABLE orders MODIFY note VARCHAR(100) NOT NULL;",
            ["set_not_null"],
            ["set_not_null"],
        ),
        # DROP INDEX of an index known not to be unique (its name says "key")
        (
            "mysql",
            ["CREATE TABLE t (id INT PRIMARY KEY, k INT);", "CREATE INDEX t_k_key ON t (k);"],
            "DROP INDEX t_k_key ON t;",
            ["drop_unique_constraint"],
            [],
        ),
        (
            "mysql",
            ["CREATE TABLE t (id INT PRIMARY KEY, k INT);", "CREATE UNIQUE INDEX t_k ON t (k);"],
            "DROP INDEX t_k ON t;",
            ["drop_unique_constraint"],  # alone its kind is unknown: the worst case, unique (issue 26)
            ["drop_unique_constraint"],
        ),
        (
            "postgresql",
            ["CREATE TABLE t (id int PRIMARY KEY, k int, CONSTRAINT t_k_uniq_ck CHECK (k > 0));"],
            "ALTER TABLE t DROP CONSTRAINT t_k_uniq_ck;",
            ["drop_unique_constraint"],
            [],
        ),
        # SET NOT NULL behind a validated CHECK (col IS NOT NULL)
        (
            "postgresql",
            [
                "CREATE TABLE users (id bigint PRIMARY KEY, email text);",
                "ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;",
                "ALTER TABLE users VALIDATE CONSTRAINT users_email_nn;",
            ],
            "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
            ["set_not_null"],
            [],
        ),
        (
            "postgresql",
            [
                "CREATE TABLE users (id bigint PRIMARY KEY, email text);",
                "ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;",
            ],
            "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
            ["set_not_null"],
            ["set_not_null"],
        ),
        # SQLite rebuild compared with the old definition
        (
            "sqlite",
            ["CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, bio TEXT);"],
            "CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n"
            "INSERT INTO users_new (id, email) SELECT id, email FROM users;\n"
            "DROP TABLE users;\nALTER TABLE users_new RENAME TO users;\n",
            ["undetermined"],
            ["drop_column"],
        ),
        (
            "sqlite",
            ["CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);"],
            "CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL, bio TEXT);\n"
            "INSERT INTO users_new (id, email) SELECT id, email FROM users;\n"
            "DROP TABLE users;\nALTER TABLE users_new RENAME TO users;\n",
            ["undetermined"],
            [],
        ),
        (
            "sqlite",
            ["CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)"],
            "CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n"
            "INSERT INTO users_new (id, email) SELECT id, email FROM users;\n"
            "DROP TABLE users;\nALTER TABLE users_new RENAME TO users;\n",
            ["undetermined"],
            ["set_not_null"],
        ),
    ],
)
def test_the_history_decides(dialect, history, pending, alone, with_history) -> None:
    assert blocking(judge([], pending, dialect)) == alone
    assert blocking(judge(history, pending, dialect)) == with_history


def test_findings_name_the_source_of_the_fact() -> None:
    report = judge(
        ["CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100));"],
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(50);",
        "postgresql",
    )
    assert "was varchar(100), per the migration history (0001_history.sql)" in report.findings[0].message
    same_file = analyze_sql(
        "CREATE TABLE t (id int, c varchar(10));\nINSERT INTO t VALUES (1, 'x');\n", "postgresql", catalog=Catalog()
    )
    assert same_file.compatible
    rebuild = judge(
        ["CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, bio TEXT);"],
        "CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n"
        "INSERT INTO users_new (id, email) SELECT id, email FROM users;\n"
        "DROP TABLE users;\nALTER TABLE users_new RENAME TO users;\n",
        "sqlite",
    )
    assert "old definition from the migration history (0001_history.sql)" in rebuild.findings[0].message


def test_a_table_created_by_an_earlier_pending_file_is_new_to_the_old_version() -> None:
    catalog = Catalog(pending_known=True)
    first = analyze_sql(
        "CREATE TABLE audit (id bigint PRIMARY KEY, what text);", "postgresql", "1.sql", catalog=catalog
    )
    second = analyze_sql(
        "CREATE INDEX audit_what ON audit (what);\nALTER TABLE audit DROP COLUMN what;",
        "postgresql",
        "2.sql",
        catalog=catalog,
    )
    assert first.compatible and second.compatible and second.findings == []
    # without knowing that the files are pending (every file of a directory checked), it is not assumed new
    unknown = Catalog()
    analyze_sql("CREATE TABLE audit (id bigint PRIMARY KEY, what text);", "postgresql", "1.sql", catalog=unknown)
    assert blocking(analyze_sql("ALTER TABLE audit DROP COLUMN what;", "postgresql", "2.sql", catalog=unknown)) == [
        "drop_column"
    ]


def test_history_tables_are_not_new() -> None:
    report = judge(
        ["CREATE TABLE audit (id bigint PRIMARY KEY, what text);"],
        "ALTER TABLE audit DROP COLUMN what;",
        "postgresql",
        pending_known=True,
    )
    assert blocking(report) == ["drop_column"]


def test_the_live_schema_wins_over_the_history() -> None:
    live = Catalog(authoritative=True)
    history = Catalog()
    analyze_sql(
        "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(400));",
        "postgresql",
        "h.sql",
        catalog=history,
        history=True,
    )
    analyze_sql(
        "ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL);",
        "postgresql",
        "h2.sql",
        catalog=history,
        history=True,
    )
    live.tables["users"] = TableInfo("users", source="live")
    live.tables["users"].columns["email"] = ColumnInfo("email", "character varying(100)", source="live")
    live.merge_history(history)
    widen = analyze_sql("ALTER TABLE users ALTER COLUMN email TYPE varchar(200);", "postgresql", catalog=live)
    assert widen.compatible  # 100 -> 200 per the live schema, not 400 -> 200 per the history
    live2 = Catalog(authoritative=True)
    live2.tables["users"] = TableInfo("users", source="live")
    live2.tables["users"].columns["email"] = ColumnInfo("email", "character varying(500)", source="live")
    live2.merge_history(history)
    narrow = analyze_sql("ALTER TABLE users ALTER COLUMN email TYPE varchar(200);", "postgresql", catalog=live2)
    assert "per the live schema (schema_dsn)" in narrow.findings[0].message
    # the CHECK only the history knows still proves the column NOT NULL
    assert analyze_sql("ALTER TABLE users ALTER COLUMN email SET NOT NULL;", "postgresql", catalog=live2).compatible


# ---- what the real-world corpus taught (tests/corpus/realworld)

SQLITE_USERS = "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email VARCHAR(255) NOT NULL, bio TEXT);"


def test_an_index_that_exists_makes_create_index_if_not_exists_a_no_op() -> None:
    history = ["CREATE TABLE t (id int PRIMARY KEY, k int);", "CREATE INDEX CONCURRENTLY t_k_idx ON t (k);"]
    assert blocking(judge(history, "CREATE INDEX IF NOT EXISTS t_k_idx ON t (k);", "postgresql")) == []
    assert blocking(judge(history, "CREATE INDEX t_k_idx2 ON t (k);", "postgresql")) == ["create_index_blocking"]


def test_a_unique_index_dropped_and_recreated_in_the_file_leaves_no_gap() -> None:
    history = ["CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT);", "CREATE UNIQUE INDEX t_k_key ON t (k);"]
    again = "DROP INDEX IF EXISTS t_k_key;\nCREATE UNIQUE INDEX t_k_key ON t (k);"
    assert blocking(judge(history, again, "sqlite")) == []
    assert blocking(judge(history, "DROP INDEX IF EXISTS t_k_key;", "sqlite")) == ["drop_unique_constraint"]


def test_sqlite_types_compare_by_affinity_and_the_rowid_is_not_a_column_drop() -> None:
    rebuild = (
        "CREATE TABLE users_new (id INTEGER PRIMARY KEY AUTOINCREMENT, email VARCHAR(768) NOT NULL, bio TEXT);\n"
        "INSERT INTO users_new (email, bio) SELECT email, bio FROM users ORDER BY id;\n"
        "DROP TABLE users;\nALTER TABLE users_new RENAME TO users;\n"
    )
    assert blocking(judge([SQLITE_USERS], rebuild, "sqlite")) == []
    narrowed = rebuild.replace("email VARCHAR(768)", "email INTEGER")
    assert blocking(judge([SQLITE_USERS], narrowed, "sqlite")) == ["alter_type"]
    dropped = rebuild.replace(", bio TEXT)", ")").replace("email, bio", "email")
    assert blocking(judge([SQLITE_USERS], dropped, "sqlite")) == ["drop_column"]


# ---- known present, known absent, unknown (issue 26)


@pytest.mark.parametrize(
    ("first", "complete"),
    [
        ("CREATE TABLE users (id int PRIMARY KEY);\nCREATE INDEX users_id ON users (id);", True),
        ("CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY);", True),
        # it touches what it did not create: the schema had objects before it
        ("ALTER TABLE users ADD COLUMN note text;", False),
        ("CREATE INDEX users_note ON users (note);", False),
        ("DROP TABLE IF EXISTS users;\nCREATE TABLE users (id int PRIMARY KEY);", False),
        ("DELETE FROM users;", False),
        ("ALTER TABLE users FROBNICATE everything;", False),
    ],
)
def test_a_history_is_complete_only_when_its_first_file_starts_from_an_empty_schema(first: str, complete: bool) -> None:
    catalog = Catalog()
    analyze_sql(first, "postgresql", "001_first.sql", catalog=catalog, history=True)
    assert catalog.history_complete is complete
    # later files do not change it: only the first one can tell where the history starts
    analyze_sql("ALTER TABLE elsewhere ADD COLUMN x int;", "postgresql", "002.sql", catalog=catalog, history=True)
    assert catalog.history_complete is complete and catalog.replayed == 2


def test_a_file_checked_but_not_replayed_does_not_make_a_history() -> None:
    catalog = Catalog()
    analyze_sql("CREATE TABLE users (id int PRIMARY KEY);", "postgresql", "001.sql", catalog=catalog)
    assert not catalog.history_complete and not catalog.knows_absence()


def test_a_finding_on_an_unknown_fact_says_which_and_how_to_settle_it() -> None:
    report = analyze_sql("ALTER TABLE sessions DROP CONSTRAINT sessions_token;", "postgresql")
    (finding,) = [f for f in report.findings if f.blocking]
    assert finding.rule == "drop_unique_constraint"
    assert "the kind of constraint sessions_token is known to neither" in finding.message
    for settle in ("from the first migration", "schema_dsn", "waive drop_unique_constraint"):
        assert settle in finding.message, finding.message
    dropped = analyze_sql("ALTER TABLE sessions ALTER COLUMN token DROP DEFAULT;", "postgresql")
    assert [f.rule for f in dropped.findings if f.blocking] == ["add_not_null_no_default"]
    assert "whether sessions.token is NOT NULL is known to neither" in dropped.findings[0].message
    # known as nullable (history from an empty schema): dropping its default is harmless
    history = ["CREATE TABLE sessions (id int PRIMARY KEY, token text DEFAULT 'x');"]
    assert blocking(judge(history, "ALTER TABLE sessions ALTER COLUMN token DROP DEFAULT;", "postgresql")) == []


def test_the_names_postgresql_gives_constraints_make_their_kind_known() -> None:
    history = [
        "CREATE TABLE orgs (id int PRIMARY KEY);\n"
        "CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE, org_id int REFERENCES orgs (id), "
        "code text, FOREIGN KEY (code) REFERENCES codes (code));"
    ]
    assert blocking(judge(history, "ALTER TABLE users DROP CONSTRAINT users_org_id_fkey;", "postgresql")) == []
    assert blocking(judge(history, "ALTER TABLE users DROP CONSTRAINT users_code_fkey;", "postgresql")) == []
    dropped = judge(history, "ALTER TABLE users DROP CONSTRAINT users_email_key;", "postgresql")
    assert blocking(dropped) == ["drop_unique_constraint"]
    mysql = ["CREATE TABLE users (id int PRIMARY KEY, email varchar(200), UNIQUE KEY users_email (email));"]
    assert blocking(judge(mysql, "ALTER TABLE users DROP INDEX users_email;", "mysql")) == ["drop_unique_constraint"]


def test_create_table_if_not_exists_of_a_table_the_history_holds_does_nothing() -> None:
    history = ["CREATE TABLE users (id int PRIMARY KEY, email text);"]
    again = (
        "CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, email text);\nCREATE INDEX users_email ON users (email);"
    )
    # the index is built on the old version's table, with its rows, not on a new one
    assert blocking(judge(history, again, "postgresql")) == ["create_index_blocking"]
    fresh = "CREATE TABLE IF NOT EXISTS devices (id int PRIMARY KEY, name text);\nCREATE INDEX devices_name ON devices (name);"
    assert blocking(judge(history, fresh, "postgresql")) == []
