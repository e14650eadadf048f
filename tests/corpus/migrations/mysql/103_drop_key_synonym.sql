ALTER TABLE users DROP KEY uq_users_email;
