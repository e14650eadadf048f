CREATE UNIQUE INDEX uq_users_username ON users (lower(username));
