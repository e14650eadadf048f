UPDATE OR IGNORE users SET email = lower(email);
