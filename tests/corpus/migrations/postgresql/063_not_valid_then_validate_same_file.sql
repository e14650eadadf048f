BEGIN;
ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount_cents >= 0) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_positive;
COMMIT;
