-- V40__roles_seed.sql
INSERT INTO roles (name) VALUES ('auditor') ON CONFLICT (name) DO NOTHING;
DELETE FROM roles WHERE name = 'intern';
UPDATE roles SET description = 'read-only access to audit logs' WHERE name = 'auditor';
