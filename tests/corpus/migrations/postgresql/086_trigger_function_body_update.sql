-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION bump_user_count() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stats SET total_users = total_users + 1;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_bump_count AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION bump_user_count();
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER IF EXISTS users_bump_count ON users;
DROP FUNCTION IF EXISTS bump_user_count();
