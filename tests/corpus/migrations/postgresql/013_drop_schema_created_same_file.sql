CREATE SCHEMA import_scratch;
CREATE TABLE import_scratch.rows (line_no integer, payload jsonb);
INSERT INTO import_scratch.rows VALUES (1, '{"sku": "A-1"}');
INSERT INTO products (sku)
SELECT payload->>'sku' FROM import_scratch.rows
ON CONFLICT (sku) DO NOTHING;
DROP SCHEMA import_scratch CASCADE;
