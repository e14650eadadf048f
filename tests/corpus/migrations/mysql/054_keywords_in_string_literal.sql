# release notes for the ops dashboard
SET @note = 'next release: DROP TABLE users_old; TRUNCATE cache_entries';
INSERT INTO migration_notes (version, note) VALUES ('2024.06', @note);
