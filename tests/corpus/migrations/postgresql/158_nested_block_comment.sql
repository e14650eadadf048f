/* Plan for v9:
   /* step 1 (done) */ DROP TABLE users; -- only after the contract release
   still inside the outer comment */
ALTER TABLE users ADD COLUMN deactivated_at timestamptz;
