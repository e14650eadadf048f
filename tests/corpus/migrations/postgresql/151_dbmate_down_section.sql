-- migrate:up
create table webhook_secrets (
  id serial primary key,
  webhook_id bigint not null,
  secret bytea not null
);

-- migrate:down
drop table webhook_secrets;
