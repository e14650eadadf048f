DROP INDEX CONCURRENTLY  "index_users_on_last_seen_at"
