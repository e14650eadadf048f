-- Add migration script here
CREATE TABLE IF NOT EXISTS subscriptions (
    id         INTEGER PRIMARY KEY NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan       TEXT    NOT NULL,
    started_at TEXT    NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_subscriptions_user_plan ON subscriptions (user_id, plan);
