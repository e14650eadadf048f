-- +goose Up
-- +goose StatementBegin
ALTER TABLE invoices ADD COLUMN pdf_url text;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
ALTER TABLE invoices DROP COLUMN pdf_url;
-- +goose StatementEnd
