ALTER TABLE events
    ADD COLUMN created_epoch bigint DEFAULT extract(epoch from now())::bigint,
    ADD COLUMN created_year integer DEFAULT date_part('year', CURRENT_DATE);
