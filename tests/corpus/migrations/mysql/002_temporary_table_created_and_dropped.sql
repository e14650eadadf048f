CREATE TEMPORARY TABLE tmp_dupe_ids (id BIGINT PRIMARY KEY);
INSERT INTO tmp_dupe_ids
    SELECT MAX(id) FROM customers GROUP BY email HAVING COUNT(*) > 1;
UPDATE customers c JOIN tmp_dupe_ids t ON t.id = c.id SET c.is_duplicate = 1;
DROP TEMPORARY TABLE tmp_dupe_ids;
