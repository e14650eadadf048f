CREATE VIEW tmp_dupes AS SELECT email, MIN(id) AS keep_id FROM users GROUP BY email HAVING COUNT(*) > 1;
UPDATE users SET merged_into = (SELECT keep_id FROM tmp_dupes WHERE tmp_dupes.email = users.email)
 WHERE id NOT IN (SELECT keep_id FROM tmp_dupes) AND email IN (SELECT email FROM tmp_dupes);
DROP VIEW tmp_dupes;
