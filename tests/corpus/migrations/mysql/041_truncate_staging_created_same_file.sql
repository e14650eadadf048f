-- V31__import_postcodes.sql
CREATE TABLE postcode_import (postcode VARCHAR(10), city VARCHAR(100)) ENGINE=InnoDB;
INSERT INTO postcode_import VALUES ('10115', 'Berlin'), ('80331', 'Muenchen');
INSERT IGNORE INTO postcodes (postcode, city) SELECT postcode, city FROM postcode_import;
TRUNCATE postcode_import;
