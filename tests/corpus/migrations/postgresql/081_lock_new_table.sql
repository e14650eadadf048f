CREATE TABLE billing_runs (id bigserial PRIMARY KEY, started_at timestamptz NOT NULL DEFAULT now());
LOCK TABLE billing_runs IN EXCLUSIVE MODE;
INSERT INTO billing_runs DEFAULT VALUES;
