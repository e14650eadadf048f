DROP INDEX IF EXISTS idx_orders_legacy_ref;
