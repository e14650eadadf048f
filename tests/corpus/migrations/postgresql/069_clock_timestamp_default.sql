-- Add migration script here
ALTER TABLE events ADD COLUMN received_at TIMESTAMPTZ DEFAULT clock_timestamp();
