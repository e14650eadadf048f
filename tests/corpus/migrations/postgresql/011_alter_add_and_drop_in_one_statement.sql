ALTER TABLE invoices
    ADD COLUMN paid_at timestamptz,
    DROP COLUMN legacy_status;
