ALTER TABLE comments ADD COLUMN author_id bigint REFERENCES users (id);
