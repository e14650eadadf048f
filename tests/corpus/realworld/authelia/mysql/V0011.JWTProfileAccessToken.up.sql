ALTER TABLE oauth2_access_token_session MODIFY signature VARCHAR(768) NOT NULL;
