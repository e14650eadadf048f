CREATE TEMP TABLE ids_to_fix (id INTEGER PRIMARY KEY);
INSERT INTO ids_to_fix SELECT id FROM users WHERE email LIKE '% %';
UPDATE users SET email = trim(email) WHERE id IN (SELECT id FROM ids_to_fix);
DROP TABLE IF EXISTS ids_to_fix;
