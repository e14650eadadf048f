ALTER TABLE orders
    ADD COLUMN discount_pct numeric(5,2),
    ADD CONSTRAINT orders_discount_pct_range CHECK (discount_pct BETWEEN 0 AND 100) NOT VALID;
