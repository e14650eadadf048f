INSERT INTO settings (`key`, `value`) VALUES ('checkout.v2', 'on')
ON DUPLICATE KEY UPDATE `value` = VALUES(`value`);
