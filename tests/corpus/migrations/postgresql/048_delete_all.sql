DELETE FROM password_reset_tokens;
