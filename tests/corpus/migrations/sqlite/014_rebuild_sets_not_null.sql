PRAGMA foreign_keys=off;
BEGIN;
CREATE TABLE users_new (
    id     INTEGER PRIMARY KEY,
    email  TEXT NOT NULL,
    locale TEXT NOT NULL
);
INSERT INTO users_new (id, email, locale) SELECT id, email, COALESCE(locale, 'en') FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
COMMIT;
PRAGMA foreign_keys=on;
