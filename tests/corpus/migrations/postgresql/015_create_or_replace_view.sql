BEGIN;
CREATE OR REPLACE VIEW active_customers AS
    SELECT id, email, created_at, loyalty_tier
      FROM customers
     WHERE deleted_at IS NULL;
COMMIT;
