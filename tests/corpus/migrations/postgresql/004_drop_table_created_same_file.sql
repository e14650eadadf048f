-- V27__backfill_country_codes.sql
CREATE TABLE tmp_country_map (old_code text PRIMARY KEY, iso_code char(2) NOT NULL);

INSERT INTO tmp_country_map (old_code, iso_code) VALUES
    ('GER', 'DE'), ('FRA', 'FR'), ('UK', 'GB');

UPDATE addresses a
   SET country_iso = m.iso_code
  FROM tmp_country_map m
 WHERE a.country = m.old_code;

DROP TABLE tmp_country_map;
