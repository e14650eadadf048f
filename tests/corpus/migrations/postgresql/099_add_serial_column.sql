ALTER TABLE legacy_imports ADD COLUMN id bigserial;
