CREATE TABLE payment_methods_archive (LIKE payment_methods INCLUDING ALL);
ALTER TABLE payments RENAME TO payment