ALTER TABLE sso_auth ADD COLUMN code_response_error TEXT;
