DROP TRIGGER IF EXISTS users_touch_updated_at;
CREATE TRIGGER users_touch_updated_at AFTER UPDATE ON users
BEGIN
    UPDATE users SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;
