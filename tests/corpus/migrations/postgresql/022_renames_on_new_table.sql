CREATE TABLE feature_flag (
    id    serial PRIMARY KEY,
    name  text NOT NULL,
    on_by_default boolean NOT NULL DEFAULT false
);
ALTER TABLE feature_flag RENAME COLUMN name TO key;
ALTER TABLE feature_flag RENAME TO feature_flags;
