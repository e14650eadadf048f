ALTER TABLE orders DROP FOREIGN KEY fk_orders_customer;
DROP INDEX idx_orders_created_at ON orders;
