-- +goose Up
-- +goose StatementBegin
CREATE TRIGGER sessions_cleanup AFTER INSERT ON sessions
BEGIN
    DELETE FROM sessions WHERE expires_at < datetime('now');
    DELETE FROM session_cache;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER sessions_cleanup;
