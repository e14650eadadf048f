CREATE TABLE "new_users" ("id" INTEGER PRIMARY KEY, "full_name" TEXT, "email" TEXT NOT NULL);
INSERT INTO "new_users" ("id", "full_name", "email") SELECT "id", "name", "email" FROM "users";
DROP TABLE "users";
ALTER TABLE "new_users" RENAME TO "users";
