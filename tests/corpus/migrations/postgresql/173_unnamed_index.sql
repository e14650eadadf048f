CREATE INDEX ON invoices (issued_on);
