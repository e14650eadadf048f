SET @tbl = 'orders';
SET @sql = CONCAT('ALTER TABLE ', @tbl, ' DROP COLUMN legacy_ref');
PREPARE s FROM @sql;
EXECUTE s;
DEALLOCATE PREPARE s;
