DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_name = 'users' AND column_name = 'legacy_id') THEN
        ALTER TABLE users DROP COLUMN legacy_id;
    END IF;
END
$$;
