ALTER TABLE api_keys ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
