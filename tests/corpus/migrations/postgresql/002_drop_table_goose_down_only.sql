-- +goose Up
CREATE TABLE webhook_deliveries (
    id          bigserial PRIMARY KEY,
    webhook_id  bigint      NOT NULL,
    status_code integer,
    sent_at     timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE webhook_deliveries;
