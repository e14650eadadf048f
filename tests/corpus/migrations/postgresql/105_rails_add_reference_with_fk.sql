ALTER TABLE "comments" ADD "post_id" bigint;
CREATE INDEX "index_comments_on_post_id" ON "comments" ("post_id");
ALTER TABLE "comments" ADD CONSTRAINT "fk_rails_2fd19c0db7"
FOREIGN KEY ("post_id")
  REFERENCES "posts" ("id")
;
