CREATE TABLE api_tokens (
    id         bigserial PRIMARY KEY,
    user_id    bigint,
    token_hash bytea
);
ALTER TABLE api_tokens ALTER COLUMN user_id SET NOT NULL;
ALTER TABLE api_tokens ALTER COLUMN token_hash SET NOT NULL;
