ALTER TABLE documents
    ADD COLUMN updated_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP,
    ADD version integer DEFAULT 1;
