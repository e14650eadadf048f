CREATE SCHEMA import_scratch;
CREATE TABLE import_scratch.rows_in (line_no INT, sku VARCHAR(64));
INSERT INTO import_scratch.rows_in VALUES (1, 'A-1');
INSERT IGNORE INTO products (sku) SELECT sku FROM import_scratch.rows_in;
DROP SCHEMA import_scratch;
