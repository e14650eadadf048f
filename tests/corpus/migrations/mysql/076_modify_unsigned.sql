ALTER TABLE ledger_entries MODIFY COLUMN amount_cents INT UNSIGNED;
