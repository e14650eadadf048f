ALTER TABLE users ADD COLUMN nickname varchar(64);
ALTER TABLE users ALTER COLUMN nickname TYPE varchar(32);
