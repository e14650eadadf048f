alter table "public"."todos" drop column "legacy_priority";
