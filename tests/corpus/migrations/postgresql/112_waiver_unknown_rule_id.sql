-- zerodown:waive drop_colum reason: fax_number unused since v41
ALTER TABLE customers DROP COLUMN fax_number;
