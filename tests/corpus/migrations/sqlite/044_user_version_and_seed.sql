PRAGMA user_version = 14;
INSERT OR IGNORE INTO roles (name) VALUES ('auditor');
DELETE FROM roles WHERE name = 'intern';
