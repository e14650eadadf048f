BEGIN;
--
-- Remove field legacy_code from customer
--
ALTER TABLE "shop_customer" DROP COLUMN "legacy_code" CASCADE;
COMMIT;
