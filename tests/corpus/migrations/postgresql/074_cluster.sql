CLUSTER orders USING idx_orders_created_at;
