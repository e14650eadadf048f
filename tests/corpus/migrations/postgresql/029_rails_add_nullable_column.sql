ALTER TABLE "users" ADD "nickname" character varying
