CREATE TABLE _alembic_tmp_users (
	id INTEGER NOT NULL,
	email VARCHAR(255) NOT NULL,
	tenant_id INTEGER NOT NULL,
	PRIMARY KEY (id)
);

INSERT INTO _alembic_tmp_users (id, email) SELECT users.id, users.email
FROM users;

DROP TABLE users;

ALTER TABLE _alembic_tmp_users RENAME TO users;

UPDATE alembic_version SET version_num='3b2c1d0e9f8a' WHERE alembic_version.version_num = '2a1b0c9d8e7f';
