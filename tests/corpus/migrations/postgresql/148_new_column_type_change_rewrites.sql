ALTER TABLE page_views ADD COLUMN hits integer;
ALTER TABLE page_views ALTER COLUMN hits TYPE bigint;
