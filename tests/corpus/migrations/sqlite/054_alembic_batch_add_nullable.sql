CREATE TABLE _alembic_tmp_users (
	id INTEGER NOT NULL,
	email VARCHAR(255) NOT NULL,
	nickname VARCHAR(64),
	PRIMARY KEY (id)
);

INSERT INTO _alembic_tmp_users (id, email) SELECT users.id, users.email
FROM users;

DROP TABLE users;

ALTER TABLE _alembic_tmp_users RENAME TO users;
