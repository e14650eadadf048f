SET lock_timeout = '5s';
SET statement_timeout = '15min';
CREATE EXTENSION IF NOT EXISTS pgcrypto;
ALTER TABLE users ADD COLUMN IF NOT EXISTS recovery_codes text[];
GRANT SELECT ON users TO reporting_ro;
