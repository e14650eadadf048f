CREATE TYPE shipment_state AS ENUM ('pending', 'shipped');
ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'refunded';
