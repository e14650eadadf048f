-- Add migration script here
ALTER TABLE subscriptions ADD COLUMN trial_ends_at TIMESTAMPTZ;
