-- +migrate Up
ALTER TABLE invoices ADD COLUMN pdf_url text;

-- +migrate Down
ALTER TABLE invoices DROP COLUMN pdf_url;
