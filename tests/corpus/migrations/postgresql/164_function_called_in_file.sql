CREATE OR REPLACE FUNCTION reset_newsletter_flags() RETURNS void
LANGUAGE sql AS $$
    UPDATE users SET newsletter_opt_in = false;
$$;

SELECT reset_newsletter_flags();
DROP FUNCTION reset_newsletter_flags();
