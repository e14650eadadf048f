ALTER TABLE orders SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02);
