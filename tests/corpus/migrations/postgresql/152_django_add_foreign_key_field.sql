BEGIN;
--
-- Add field author to post
--
ALTER TABLE "blog_post" ADD COLUMN "author_id" integer NULL CONSTRAINT "blog_post_author_id_7c1b1a2e_fk_auth_user_id" REFERENCES "auth_user"("id") DEFERRABLE INITIALLY DEFERRED; SET CONSTRAINTS "blog_post_author_id_7c1b1a2e_fk_auth_user_id" IMMEDIATE;
CREATE INDEX "blog_post_author_id_7c1b1a2e" ON "blog_post" ("author_id");
COMMIT;
