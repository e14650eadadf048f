PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE customers_new (
    id    INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    phone TEXT
);
INSERT INTO customers_new (id, email, phone) SELECT id, email, phone FROM customers;
DROP TABLE customers;
ALTER TABLE customers_new RENAME TO customers;
CREATE UNIQUE INDEX uq_customers_email ON customers (email);
COMMIT;
PRAGMA foreign_keys=ON;
