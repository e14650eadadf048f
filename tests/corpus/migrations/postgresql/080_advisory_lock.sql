SELECT pg_advisory_xact_lock(hashtext('backfill_accounts'));
UPDATE accounts SET plan = 'free' WHERE plan IS NULL;
