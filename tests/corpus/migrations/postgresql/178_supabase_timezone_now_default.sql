alter table "public"."profiles" add column "updated_at" timestamp with time zone not null default timezone('utc'::text, now());
