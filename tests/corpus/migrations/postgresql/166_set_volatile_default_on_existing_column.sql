ALTER TABLE api_keys ALTER COLUMN public_id SET DEFAULT gen_random_uuid();
