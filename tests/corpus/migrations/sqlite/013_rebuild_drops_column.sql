PRAGMA foreign_keys=off;
BEGIN TRANSACTION;
INSERT INTO user_legacy_codes (user_id, code)
    SELECT id, legacy_code FROM users WHERE legacy_code IS NOT NULL;
CREATE TABLE new_users (
    id         INTEGER PRIMARY KEY,
    email      TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO new_users (id, email, created_at) SELECT id, email, created_at FROM users;
DROP TABLE users;
ALTER TABLE new_users RENAME TO users;
CREATE INDEX idx_users_email ON users (email);
COMMIT;
PRAGMA foreign_keys=on;
