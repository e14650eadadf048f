-- V12__add_shipping_address.sql
CREATE TABLE shipping_addresses (
    id          BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    line1       VARCHAR(200) NOT NULL,
    city        VARCHAR(100) NOT NULL,
    country     CHAR(2) NOT NULL
);
ALTER TABLE customers ADD COLUMN default_shipping_address_id BIGINT;
COMMENT ON COLUMN customers.default_shipping_address_id IS 'DROP after v13 if unused';
