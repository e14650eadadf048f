UPDATE invoices SET currency = t.default_currency FROM tenants t;
