CREATE INDEX IF NOT EXISTS idx_users_last_login ON users USING btree (last_login_at DESC);
