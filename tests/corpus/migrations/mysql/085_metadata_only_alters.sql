ALTER TABLE users ALTER INDEX idx_users_created INVISIBLE;
ALTER TABLE orders AUTO_INCREMENT = 100000;
ALTER TABLE orders COMMENT = 'customer orders; DROP after v9 is NOT planned';
