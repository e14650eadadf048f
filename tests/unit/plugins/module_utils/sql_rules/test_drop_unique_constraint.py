"""Rule ``drop_unique_constraint``: SQL it blocks (UNSAFE) and lets through (SAFE); the rule is
plugins/module_utils/_sql/rules/drop_unique_constraint.py. Each case: (dialect, sql[, history: files that already ran])."""

from __future__ import annotations

RULE = "drop_unique_constraint"

UNSAFE = [
    (
        "sqlite",
        "CREATE TABLE devices_new (uuid TEXT NOT NULL, user_uuid TEXT NOT NULL, PRIMARY KEY (uuid, user_uuid));\n"
        "INSERT INTO devices_new SELECT * FROM devices;\nDROP TABLE devices;\nALTER TABLE devices_new RENAME TO devices;",
        ["CREATE TABLE devices (uuid TEXT NOT NULL PRIMARY KEY, user_uuid TEXT NOT NULL);"],
    ),
    (
        "postgresql",
        "DROP INDEX CONCURRENTLY users_email_key;",
    ),
    (
        "postgresql",
        "ALTER TABLE users DROP CONSTRAINT users_pkey;",
    ),
    (
        "mysql",
        "ALTER TABLE users DROP INDEX uniq_email;",
        [
            "CREATE TABLE users (id int, email varchar(255), UNIQUE KEY uniq_email (email));",
        ],
    ),
    # nothing says what kind of constraint it is (issue 26): its name proves nothing, it may be the UNIQUE
    # constraint the old version's ON CONFLICT relies on
    ("postgresql", "ALTER TABLE users DROP CONSTRAINT users_age_check;"),
    ("postgresql", "ALTER TABLE sessions DROP CONSTRAINT sessions_token;"),
    ("mysql", "ALTER TABLE sessions DROP INDEX idx_token;"),
    ("postgresql", "DROP INDEX CONCURRENTLY idx_users_email;"),
    # a history that does not start from an empty schema knows nothing of it either
    (
        "postgresql",
        "ALTER TABLE sessions DROP CONSTRAINT sessions_token;",
        ["ALTER TABLE users ADD COLUMN note text;"],
    ),
]

SAFE = [
    (
        "postgresql",
        "DROP INDEX CONCURRENTLY idx_users_email;",
        [
            "CREATE TABLE users (id int, email text);",
            "CREATE INDEX idx_users_email ON users (email);",
        ],
    ),
    (
        "postgresql",
        "ALTER TABLE users DROP CONSTRAINT users_age_check;",
        ["CREATE TABLE users (id int, age int, CONSTRAINT users_age_check CHECK (age > 0));"],
    ),
    ("postgresql", "ALTER TABLE users DROP CHECK users_age_check;"),
    ("mysql", "ALTER TABLE users DROP FOREIGN KEY fk_users_org;"),
    (
        "mysql",
        "ALTER TABLE sessions DROP INDEX idx_token;",
        ["CREATE TABLE sessions (id int, token varchar(64), KEY idx_token (token));"],
    ),
    (
        "sqlite",
        "DROP INDEX idx_lookup;",
        [
            "CREATE TABLE t (id INTEGER, k TEXT);",
            "CREATE INDEX idx_lookup ON t (k);",
        ],
    ),
]


def test_case(case, verdict) -> None:
    verdict(case)
