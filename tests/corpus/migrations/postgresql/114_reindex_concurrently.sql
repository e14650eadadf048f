-- +goose NO TRANSACTION
-- +goose Up
REINDEX INDEX CONCURRENTLY idx_orders_created_at;

-- +goose Down
SELECT 1;
