-- +goose NO TRANSACTION
-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS idx_orders_legacy_ref;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_legacy_ref ON orders (legacy_ref);
