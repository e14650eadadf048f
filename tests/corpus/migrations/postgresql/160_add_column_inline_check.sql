ALTER TABLE orders ADD COLUMN discount_pct numeric(5,2) CHECK (discount_pct BETWEEN 0 AND 100);
