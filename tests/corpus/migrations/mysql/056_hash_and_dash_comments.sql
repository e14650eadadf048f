# DROP TABLE users;
-- ALTER TABLE users DROP COLUMN email;
/* TODO(v9): DROP COLUMN users.fax */
CREATE INDEX idx_users_created_at ON users (created_at);
