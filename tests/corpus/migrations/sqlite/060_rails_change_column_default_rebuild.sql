CREATE TEMPORARY TABLE "aorders" ("id" integer NOT NULL PRIMARY KEY, "status" varchar, "total" integer NOT NULL);
INSERT INTO "aorders" ("id","status","total") SELECT "id","status","total" FROM "orders";
DROP TABLE "orders";
CREATE TABLE "orders" ("id" integer NOT NULL PRIMARY KEY, "status" varchar DEFAULT 'new', "total" integer NOT NULL);
INSERT INTO "orders" ("id","status","total") SELECT "id","status","total" FROM "aorders";
DROP TABLE "aorders";
