-- V44__drop_fax.sql
ALTER TABLE ${schema}.customers DROP COLUMN fax_number;
