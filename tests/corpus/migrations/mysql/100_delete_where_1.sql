DELETE FROM rate_limit_buckets WHERE 1;
