ALTER TABLE customers
  -- zerodown:waive drop_column reason: column unused since v41, see OPS-123
  DROP COLUMN fax_number;
