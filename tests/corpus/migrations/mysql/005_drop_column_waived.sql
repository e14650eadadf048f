-- zerodown:waive drop_column reason: column unused since v41, see OPS-123
ALTER TABLE customers DROP COLUMN fax_number;
