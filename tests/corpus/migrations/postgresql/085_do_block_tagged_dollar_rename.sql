DO $migration$
BEGIN
    ALTER TABLE invoices RENAME COLUMN total TO total_cents;
END
$migration$;
