ALTER TABLE invoice RENAME AS invoices;
