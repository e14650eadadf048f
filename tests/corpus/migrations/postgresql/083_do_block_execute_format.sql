DO $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'tenant_%'
    LOOP
        EXECUTE format('ALTER TABLE %I DROP COLUMN IF EXISTS legacy_flag', t);
    END LOOP;
END
$$ LANGUAGE plpgsql;
