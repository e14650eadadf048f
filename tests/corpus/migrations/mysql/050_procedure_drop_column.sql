DROP PROCEDURE IF EXISTS drop_legacy_code;
DELIMITER $$
CREATE PROCEDURE drop_legacy_code()
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.COLUMNS
               WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'legacy_code') THEN
        ALTER TABLE users DROP COLUMN legacy_code;
    END IF;
END $$
DELIMITER ;
CALL drop_legacy_code();
DROP PROCEDURE drop_legacy_code;
