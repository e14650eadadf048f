CREATE TABLE feature_flag (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
ALTER TABLE feature_flag RENAME COLUMN name TO flag_key;
ALTER TABLE feature_flag RENAME TO feature_flags;
