ALTER TABLE users RENAME CONSTRAINT users_email_check TO users_email_format_check;
