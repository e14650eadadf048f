INSERT INTO settings (key, value) VALUES ('checkout.v2', 'on')
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
