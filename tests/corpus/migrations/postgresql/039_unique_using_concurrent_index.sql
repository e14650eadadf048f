-- +goose NO TRANSACTION
-- +goose Up
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS accounts_slug_idx ON accounts (slug);
ALTER TABLE accounts ADD CONSTRAINT accounts_slug_key UNIQUE USING INDEX accounts_slug_idx;

-- +goose Down
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_slug_key;
