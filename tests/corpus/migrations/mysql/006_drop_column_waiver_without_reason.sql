-- zerodown:waive drop_column
ALTER TABLE customers DROP COLUMN fax_number;
