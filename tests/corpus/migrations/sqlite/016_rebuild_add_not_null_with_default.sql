PRAGMA foreign_keys=off;
BEGIN TRANSACTION;
CREATE TABLE orders_new (
    id         INTEGER PRIMARY KEY,
    total      INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    currency   TEXT NOT NULL DEFAULT 'EUR'
);
INSERT INTO orders_new (id, total, created_at) SELECT id, total, created_at FROM orders;
DROP TABLE orders;
ALTER TABLE orders_new RENAME TO orders;
CREATE INDEX idx_orders_created_at ON orders (created_at);
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys=on;
