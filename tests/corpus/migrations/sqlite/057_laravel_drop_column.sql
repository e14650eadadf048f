alter table "users" drop column "legacy_code"
