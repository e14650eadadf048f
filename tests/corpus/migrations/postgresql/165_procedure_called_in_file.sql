CREATE PROCEDURE purge_sessions()
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sessions;
    COMMIT;
END;
$$;

CALL purge_sessions();
