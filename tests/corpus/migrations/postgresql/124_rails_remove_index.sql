DROP INDEX  "index_users_on_last_seen_at"
