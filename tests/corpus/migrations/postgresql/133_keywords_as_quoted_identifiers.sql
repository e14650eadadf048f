ALTER TABLE "drop table" ADD COLUMN "truncate" integer;
