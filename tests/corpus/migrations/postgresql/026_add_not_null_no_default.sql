ALTER TABLE orders ADD COLUMN currency char(3) NOT NULL;
