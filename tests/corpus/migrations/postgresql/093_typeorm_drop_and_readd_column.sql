ALTER TABLE "user" DROP COLUMN "name";
ALTER TABLE "user" ADD "name" character varying(100) NOT NULL
