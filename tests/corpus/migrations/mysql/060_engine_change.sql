ALTER TABLE legacy_events ENGINE=InnoDB;
