CREATE UNIQUE INDEX uq_accounts_slug ON accounts (slug);
