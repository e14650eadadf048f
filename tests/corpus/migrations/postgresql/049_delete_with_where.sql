DELETE FROM password_reset_tokens WHERE created_at < now() - interval '1 day';
