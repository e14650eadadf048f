CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
ALTER TABLE devices ADD COLUMN public_id uuid NOT NULL DEFAULT uuid_generate_v4();
