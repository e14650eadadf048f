ALTER TABLE invoices ADD tenant_id int NOT NULL;
