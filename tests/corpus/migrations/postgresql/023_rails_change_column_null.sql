UPDATE "users" SET "locale" = 'en' WHERE "users"."locale" IS NULL;
ALTER TABLE "users" ALTER COLUMN "locale" SET NOT NULL;
