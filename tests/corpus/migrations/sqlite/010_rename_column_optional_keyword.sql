ALTER TABLE users RENAME name TO full_name;
