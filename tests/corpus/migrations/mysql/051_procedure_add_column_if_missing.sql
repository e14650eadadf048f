DROP PROCEDURE IF EXISTS add_timezone;
DELIMITER //
CREATE PROCEDURE add_timezone()
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.COLUMNS
                   WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'timezone') THEN
        ALTER TABLE users ADD COLUMN timezone VARCHAR(64) NULL;
    END IF;
END //
DELIMITER ;
CALL add_timezone();
DROP PROCEDURE add_timezone;
