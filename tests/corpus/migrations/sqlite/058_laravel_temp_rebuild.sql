create table "__temp__users" ("id" integer primary key autoincrement not null, "name" varchar not null, "email" varchar not null, "remember_token" varchar);
insert into "__temp__users" ("id", "name", "email", "remember_token") select "id", "name", "email", "remember_token" from "users";
drop table "users";
alter table "__temp__users" rename to "users";
