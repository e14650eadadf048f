-- demoapp v1: one row per /db request. IF NOT EXISTS: the fleet bootstrap
-- and the migrate role may both apply it.
CREATE TABLE IF NOT EXISTS visits (
    id bigserial PRIMARY KEY,
    host text NOT NULL,
    version text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
