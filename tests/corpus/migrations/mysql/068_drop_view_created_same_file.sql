CREATE VIEW tmp_dupes AS SELECT email, MIN(id) AS keep_id FROM users GROUP BY email HAVING COUNT(*) > 1;
UPDATE users u JOIN tmp_dupes d ON d.email = u.email AND u.id <> d.keep_id SET u.merged_into = d.keep_id;
DROP VIEW tmp_dupes;
