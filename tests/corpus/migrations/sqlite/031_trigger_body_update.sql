CREATE TRIGGER IF NOT EXISTS users_bump_count AFTER INSERT ON users
BEGIN
    UPDATE stats SET total_users = total_users + 1;
END;
