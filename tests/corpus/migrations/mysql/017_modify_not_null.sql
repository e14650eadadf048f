UPDATE users SET email = CONCAT('unknown+', id, '@example.invalid') WHERE email IS NULL;
ALTER TABLE users MODIFY email VARCHAR(255) NOT NULL;
