BEGIN;
--
-- Add field sku to product
--
ALTER TABLE "catalog_product" ADD COLUMN "sku" varchar(64) NULL;
CREATE INDEX "catalog_product_sku_5a1b2c3d" ON "catalog_product" ("sku");
CREATE INDEX "catalog_product_sku_5a1b2c3d_like" ON "catalog_product" ("sku" varchar_pattern_ops);
COMMIT;
