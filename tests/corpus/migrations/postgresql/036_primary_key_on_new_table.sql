CREATE TABLE event_tags (
    event_id bigint NOT NULL,
    tag      text   NOT NULL
);
ALTER TABLE event_tags ADD PRIMARY KEY (event_id, tag);
