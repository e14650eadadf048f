DELIMITER ;;
CREATE TRIGGER users_count_ai AFTER INSERT ON users FOR EACH ROW BEGIN
    UPDATE stats SET total_users = total_users + 1;
END ;;
DELIMITER ;
