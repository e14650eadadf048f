-- V12__add_shipping_address.sql
CREATE TABLE shipping_addresses (
    id          BIGINT AUTO_INCREMENT PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    line1       VARCHAR(200) NOT NULL,
    city        VARCHAR(100) NOT NULL,
    country     CHAR(2) NOT NULL,
    KEY idx_shipping_customer (customer_id)
) ENGINE=InnoDB;
ALTER TABLE customers ADD COLUMN default_shipping_address_id BIGINT NULL;
