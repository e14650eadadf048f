ALTER INDEX idx_customer_email RENAME TO idx_customers_email;
