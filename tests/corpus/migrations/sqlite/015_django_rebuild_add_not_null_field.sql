BEGIN;
--
-- Add field currency to order
--
CREATE TABLE "new__shop_order" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "total" integer NOT NULL, "created_at" datetime NOT NULL, "currency" varchar(3) NOT NULL);
INSERT INTO "new__shop_order" ("id", "total", "created_at", "currency") SELECT "id", "total", "created_at", 'EUR' FROM "shop_order";
DROP TABLE "shop_order";
ALTER TABLE "new__shop_order" RENAME TO "shop_order";
COMMIT;
