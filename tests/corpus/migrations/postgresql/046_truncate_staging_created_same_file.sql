-- V31__import_postcodes.sql
CREATE UNLOGGED TABLE postcode_import (postcode text, city text);
INSERT INTO postcode_import VALUES ('10115', 'Berlin'), ('80331', 'Muenchen');
INSERT INTO postcodes (postcode, city)
SELECT postcode, city FROM postcode_import
ON CONFLICT (postcode) DO NOTHING;
TRUNCATE postcode_import;
