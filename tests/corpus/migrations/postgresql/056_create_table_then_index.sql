CREATE TABLE IF NOT EXISTS shipments (
    id          bigserial PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES orders (id),
    carrier     text   NOT NULL,
    tracking_no text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_shipments_order_id ON shipments (order_id);
CREATE UNIQUE INDEX IF NOT EXISTS uq_shipments_tracking ON shipments (carrier, tracking_no);
