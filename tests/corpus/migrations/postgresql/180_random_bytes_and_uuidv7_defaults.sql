ALTER TABLE api_clients
    ADD COLUMN secret text DEFAULT encode(gen_random_bytes(16), 'hex'),
    ADD COLUMN public_id uuid DEFAULT uuidv7();
