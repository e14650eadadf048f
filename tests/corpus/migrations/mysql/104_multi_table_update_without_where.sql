UPDATE invoices, tenants SET invoices.currency = tenants.default_currency;
