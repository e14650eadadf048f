-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_created_at ON orders (created_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS idx_orders_created_at;
