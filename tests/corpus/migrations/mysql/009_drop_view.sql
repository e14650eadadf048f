DROP VIEW IF EXISTS active_customers;
