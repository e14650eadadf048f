CREATE INDEX CONCURRENTLY "index_users_on_confirmation_token" ON "users" ("confirmation_token")
