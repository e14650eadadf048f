ALTER TABLE profiles ADD COLUMN prefs jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE profiles ADD COLUMN synced_at timestamp DEFAULT (now() AT TIME ZONE 'utc');
