ALTER TABLE customer RENAME customers;
