UPDATE users SET locale = 'en' WHERE locale IS NULL AND created_at < '2024-01-01';
