-- zerodown:waive drop_column reason: fax_number unused since v41 (no reads in the v41 code), see OPS-123
ALTER TABLE customers DROP COLUMN fax_number;
