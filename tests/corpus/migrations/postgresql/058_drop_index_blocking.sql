DROP INDEX idx_orders_legacy_ref;
