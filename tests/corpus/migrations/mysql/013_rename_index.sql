ALTER TABLE users RENAME INDEX idx_users_mail TO idx_users_email;
