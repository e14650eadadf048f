ALTER TABLE accounts ADD UNIQUE KEY uq_accounts_slug (slug);
