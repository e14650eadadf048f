ALTER TABLE users ADD COLUMN nickname varchar(32);
COMMENT ON COLUMN users.nickname IS 'display name, optional';
ALTER TABLE users ALTER COLUMN nickname TYPE varchar(64);
