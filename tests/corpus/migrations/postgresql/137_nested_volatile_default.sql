ALTER TABLE experiments ADD COLUMN shard smallint DEFAULT floor(random() * 16)::smallint;
