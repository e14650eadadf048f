LOCK TABLES accounts WRITE;
UPDATE accounts SET balance_cents = 0 WHERE id = 1;
UNLOCK TABLES;
