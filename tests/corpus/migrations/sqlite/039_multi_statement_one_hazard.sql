-- Add migration script here
CREATE TABLE IF NOT EXISTS tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
ALTER TABLE posts ADD COLUMN tag_id INTEGER REFERENCES tags (id);
ALTER TABLE posts RENAME COLUMN body TO content;
CREATE INDEX idx_posts_tag ON posts (tag_id);
