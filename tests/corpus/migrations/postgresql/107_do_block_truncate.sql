DO $$
BEGIN
    IF current_setting('app.env', true) IS DISTINCT FROM 'dev' THEN
        TRUNCATE TABLE user_sessions;
    END IF;
END $$;
