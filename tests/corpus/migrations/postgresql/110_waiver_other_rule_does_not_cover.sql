-- zerodown:waive drop_column reason: nothing is dropped here, the waiver is for the wrong rule
ALTER TABLE invoices RENAME COLUMN total TO total_cents;
