-- zerodown:contract
ALTER TABLE customers DROP COLUMN fax_number;
