ALTER VIEW active_customers RENAME TO customers_active;
