ALTER TABLE devices ADD COLUMN public_id uuid;
ALTER TABLE devices ALTER COLUMN public_id SET DEFAULT gen_random_uuid();
UPDATE devices SET public_id = gen_random_uuid() WHERE public_id IS NULL AND id < 10000;
