-- zerodown:waive drop_unique_constraint, drop_index_blocking reason: table has 12 rows, uniqueness moved to tenant_users_uq
DROP INDEX tenant_users_email_unique;
