DO $$
DECLARE
    t text := 'orders';
BEGIN
    EXECUTE 'ALTER TABLE ' || quote_ident(t) || ' DROP COLUMN legacy_ref';
END
$$;
