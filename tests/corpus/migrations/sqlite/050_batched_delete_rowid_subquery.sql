DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE created_at < '2023-01-01' LIMIT 1000);
