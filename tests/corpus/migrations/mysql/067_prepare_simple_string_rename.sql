SET @s = 'RENAME TABLE customer TO customers';
PREPARE rename_stmt FROM @s;
EXECUTE rename_stmt;
DEALLOCATE PREPARE rename_stmt;
