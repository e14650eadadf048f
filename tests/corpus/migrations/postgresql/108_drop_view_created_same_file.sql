CREATE VIEW tmp_dupes AS
    SELECT email, min(id) AS keep_id FROM users GROUP BY email HAVING count(*) > 1;
UPDATE users u SET merged_into = d.keep_id
  FROM tmp_dupes d
 WHERE u.email = d.email AND u.id <> d.keep_id;
DROP VIEW tmp_dupes;
