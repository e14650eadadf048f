TRUNCATE ONLY rate_limits;
