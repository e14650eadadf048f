LOCK TABLES orders READ, customers READ;
INSERT INTO report_snapshots (taken_at, orders) SELECT NOW(), COUNT(*) FROM orders;
UNLOCK TABLES;
