BEGIN;
--
-- Create index active_email_idx on field(s) email of model user
--
CREATE INDEX "active_email_idx" ON "accounts_user" ("email") WHERE "deleted_at" IS NULL;
COMMIT;
