DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_name = 'users' AND column_name = 'timezone') THEN
        ALTER TABLE users ADD COLUMN timezone text;
    END IF;
    RAISE NOTICE 'users.tz is kept; its DROP COLUMN ships in the contract release';
END
$$;
