SELECT GET_LOCK('migrate_accounts', 10);
UPDATE accounts SET plan = 'free' WHERE plan IS NULL;
SELECT RELEASE_LOCK('migrate_accounts');
