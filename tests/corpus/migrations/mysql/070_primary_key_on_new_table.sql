CREATE TABLE event_tags (event_id BIGINT NOT NULL, tag VARCHAR(64) NOT NULL) ENGINE=InnoDB;
ALTER TABLE event_tags ADD PRIMARY KEY (event_id, tag);
