CREATE TABLE tmp_country_map (old_code TEXT PRIMARY KEY, iso_code TEXT NOT NULL);
INSERT INTO tmp_country_map VALUES ('GER', 'DE'), ('FRA', 'FR');
UPDATE addresses
   SET country_iso = (SELECT iso_code FROM tmp_country_map WHERE old_code = addresses.country)
 WHERE country IN (SELECT old_code FROM tmp_country_map);
DROP TABLE tmp_country_map;
