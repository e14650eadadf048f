-- +goose Up
ALTER TABLE invoices ADD COLUMN pdf_url VARCHAR(512) NULL;

-- +goose Down
ALTER TABLE invoices DROP COLUMN pdf_url;
