ALTER TABLE carts ADD COLUMN coupon text; DROP TABLE cart_coupons;
