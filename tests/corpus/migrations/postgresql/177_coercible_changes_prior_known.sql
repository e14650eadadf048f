ALTER TABLE payouts ADD COLUMN note varchar(64), ADD COLUMN fee numeric(10,2);
ALTER TABLE payouts ALTER COLUMN note TYPE text, ALTER COLUMN fee TYPE numeric(12,2);
