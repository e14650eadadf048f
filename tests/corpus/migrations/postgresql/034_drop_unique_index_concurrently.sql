-- +goose NO TRANSACTION
-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS users_email_unique_idx;

-- +goose Down
CREATE UNIQUE INDEX CONCURRENTLY users_email_unique_idx ON users (email);
