PRAGMA foreign_keys=off;
BEGIN;
CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL, first_name TEXT, last_name TEXT, full_name TEXT);
INSERT INTO users_new (id, email, first_name, last_name, full_name)
    SELECT id, email, first_name, last_name, first_name || ' ' || last_name FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
COMMIT;
PRAGMA foreign_keys=on;
