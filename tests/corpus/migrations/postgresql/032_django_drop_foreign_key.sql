BEGIN;
--
-- Alter field customer on order
--
SET CONSTRAINTS "shop_order_customer_id_9a1b2c3d_fk_shop_customer_id" IMMEDIATE; ALTER TABLE "shop_order" DROP CONSTRAINT "shop_order_customer_id_9a1b2c3d_fk_shop_customer_id";
COMMIT;
