ALTER TABLE invoices ALTER number TYPE bigint;
ALTER TABLE invoices ALTER issued_on SET NOT NULL;
