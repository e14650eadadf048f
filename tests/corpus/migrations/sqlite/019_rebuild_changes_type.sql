PRAGMA foreign_keys=off;
BEGIN;
CREATE TABLE payments_new (
    id      INTEGER PRIMARY KEY,
    amount  INTEGER NOT NULL,
    paid_at TEXT
);
INSERT INTO payments_new (id, amount, paid_at) SELECT id, CAST(amount AS INTEGER), paid_at FROM payments;
DROP TABLE payments;
ALTER TABLE payments_new RENAME TO payments;
COMMIT;
PRAGMA foreign_keys=on;
