ALTER TABLE sso_auth ADD COLUMN binding_hash TEXT;
