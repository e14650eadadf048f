-- +goose Up
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id          INTEGER PRIMARY KEY,
    webhook_id  INTEGER NOT NULL,
    status_code INTEGER,
    sent_at     TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_webhook ON webhook_deliveries (webhook_id);

-- +goose Down
DROP TABLE webhook_deliveries;
