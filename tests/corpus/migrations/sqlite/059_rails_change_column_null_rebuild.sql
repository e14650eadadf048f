CREATE TEMPORARY TABLE "ausers" ("id" integer NOT NULL PRIMARY KEY, "email" varchar NOT NULL, "name" varchar);
INSERT INTO "ausers" ("id","email","name") SELECT "id","email","name" FROM "users";
DROP TABLE "users";
CREATE TABLE "users" ("id" integer NOT NULL PRIMARY KEY, "email" varchar NOT NULL, "name" varchar NOT NULL);
INSERT INTO "users" ("id","email","name") SELECT "id","email","name" FROM "ausers";
DROP TABLE "ausers";
