ALTER TABLE "users" ADD COLUMN "age" integer;--> statement-breakpoint
ALTER TABLE "users" DROP COLUMN IF EXISTS "legacy_score";
