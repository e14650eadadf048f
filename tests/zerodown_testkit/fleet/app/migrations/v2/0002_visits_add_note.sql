-- demoapp v2: additive and nullable, so v1 keeps inserting rows without it.
ALTER TABLE visits ADD COLUMN IF NOT EXISTS note text;
