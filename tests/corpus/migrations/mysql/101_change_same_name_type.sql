ALTER TABLE invoices CHANGE COLUMN number number BIGINT;
