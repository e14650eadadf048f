-- +goose Up
ALTER TABLE invoices ADD COLUMN pdf_url TEXT;

-- +goose Down
ALTER TABLE invoices DROP COLUMN pdf_url;
