ALTER TABLE invoices DROP COLUMN total;
ALTER TABLE invoice_lines_v1 RENAME TO invoice_lines_v1_retired;
