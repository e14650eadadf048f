ALTER TABLE memberships
    DROP CONSTRAINT memberships_pkey,
    ADD CONSTRAINT memberships_pkey PRIMARY KEY (org_id, user_id);
