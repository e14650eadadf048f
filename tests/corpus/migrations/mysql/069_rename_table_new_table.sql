CREATE TABLE feature_flag (id INT AUTO_INCREMENT PRIMARY KEY, flag_key VARCHAR(64) NOT NULL);
RENAME TABLE feature_flag TO feature_flags;
