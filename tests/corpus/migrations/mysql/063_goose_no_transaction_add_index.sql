-- +goose NO TRANSACTION
-- +goose Up
ALTER TABLE orders ADD INDEX idx_orders_customer_created (customer_id, created_at), ALGORITHM=INPLACE, LOCK=NONE;

-- +goose Down
ALTER TABLE orders DROP INDEX idx_orders_customer_created;
ALTER TABLE orders DROP INDEX uq_orders_reference;
