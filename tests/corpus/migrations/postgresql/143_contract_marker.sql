-- zerodown:contract
-- Second half of the fax_number removal: v42 no longer reads it.
ALTER TABLE customers DROP COLUMN fax_number;
