BEGIN;
--
-- Create constraint uniq_membership_org_user on model membership
--
ALTER TABLE "orgs_membership" ADD CONSTRAINT "uniq_membership_org_user" UNIQUE ("org_id", "user_id");
COMMIT;
