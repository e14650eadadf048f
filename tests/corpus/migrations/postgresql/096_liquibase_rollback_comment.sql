--liquibase formatted sql

--changeset alice:42
CREATE TABLE shipment_events (
    id bigserial PRIMARY KEY,
    shipment_id bigint NOT NULL,
    kind text NOT NULL
);
--rollback DROP TABLE shipment_events;
