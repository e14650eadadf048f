ALTER TABLE products DROP CONSTRAINT IF EXISTS products_price_positive_check;
