ALTER TABLE users_organizations ADD COLUMN invited_by_email TEXT DEFAULT NULL;
