-- +goose Up
-- +goose StatementBegin
CREATE PROCEDURE cleanup_legacy()
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.COLUMNS
               WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'legacy_code') THEN
        ALTER TABLE users DROP COLUMN legacy_code;
    END IF;
END;
-- +goose StatementEnd
CALL cleanup_legacy();
DROP PROCEDURE cleanup_legacy;

-- +goose Down
SELECT 1;
