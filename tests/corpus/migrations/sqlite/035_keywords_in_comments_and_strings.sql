-- DROP TABLE users;
/* DELETE FROM sessions; -- planned for v9 */
INSERT INTO migration_notes (note) VALUES ('v9 will DROP TABLE users; DELETE FROM sessions;');
