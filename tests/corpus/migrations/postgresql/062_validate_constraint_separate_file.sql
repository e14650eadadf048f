-- Second half of orders_amount_positive: the NOT VALID constraint shipped in the previous release.
ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_positive;
