BEGIN;
--
-- Create constraint price_gte_0 on model product
--
ALTER TABLE "catalog_product" ADD CONSTRAINT "price_gte_0" CHECK ("price" >= 0);
COMMIT;
