UPDATE users SET locale = 'en' WHERE locale IS NULL;
