LOCK accounts;
