-- DROP TABLE users;  (kept for the contract release, see OPS-311)
/* TRUNCATE sessions; would be faster but loses logged-in users */
INSERT INTO audit_log (actor, message)
VALUES ('migration', 'planned: DROP TABLE users; TRUNCATE sessions; -- in v5');
